"""The API's clock as the relay sees it (``GET /v3/time``).

dYdX accepted a signed timestamp only within 30 s of *its* clock, so every decision about timestamps — which
ladder rung to send, what to put in an HMAC header, how long an interrupted request can still be accepted —
is made on the server's clock: measured once, then carried forward by the relay's monotonic clock.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dydx_airgap.online.relay.api_client import ApiClient, Attempt, Observer
from dydx_airgap.shared.errors import AirgapError, RemoteError
from dydx_airgap.shared.timestamps import parse_iso_ms

#: ``iso`` and ``epoch`` of one answer may differ by rounding only.
_MAX_ISO_EPOCH_DISAGREEMENT = 2.0


@dataclass(frozen=True)
class ServerTime:
    server: datetime  # what the API said
    sent_monotonic: float
    received_monotonic: float

    @property
    def round_trip(self) -> float:
        return self.received_monotonic - self.sent_monotonic


def parse_time_answer(data: Any) -> datetime:
    """Validate ``{iso, epoch}`` (dYdX's shape) and return the instant; a malformed answer is an error."""
    if not isinstance(data, dict) or not isinstance(data.get("iso"), str):
        raise RemoteError("GET /v3/time: the answer has no 'iso' timestamp")
    try:
        moment = parse_iso_ms(data["iso"])
    except AirgapError as exc:
        raise RemoteError("GET /v3/time: the 'iso' timestamp is malformed") from exc
    epoch = data.get("epoch")
    if epoch is not None:
        if isinstance(epoch, bool) or not isinstance(epoch, int | float) or not math.isfinite(epoch):
            raise RemoteError("GET /v3/time: 'epoch' is not a number")
        if abs(moment.timestamp() - float(epoch)) > _MAX_ISO_EPOCH_DISAGREEMENT:
            raise RemoteError("GET /v3/time: 'iso' and 'epoch' disagree")
    return moment


def fetch_server_time(client: ApiClient, observe: Observer | None = None) -> ServerTime:
    """One ``GET /v3/time``; the timing is that of the attempt that answered (retries excluded)."""
    answered: list[Attempt] = []

    def keep(attempt: Attempt) -> None:
        answered.append(attempt)
        if observe is not None:
            observe(attempt)

    data = client.get_json("/v3/time", observe=keep)
    received = time.monotonic()
    duration = (answered[-1].finished - answered[-1].started).total_seconds() if answered else 0.0
    return ServerTime(parse_time_answer(data), received - max(duration, 0.0), received)


class ServerClock:
    """Server time now = measured server time + monotonic time elapsed since the middle of the exchange."""

    def __init__(self, measured: ServerTime) -> None:
        self.measured = measured
        self._anchor = (measured.sent_monotonic + measured.received_monotonic) / 2

    @classmethod
    def measure(cls, client: ApiClient, observe: Observer | None = None) -> ServerClock:
        return cls(fetch_server_time(client, observe))

    def now(self) -> datetime:
        return self.measured.server + timedelta(seconds=time.monotonic() - self._anchor)

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds()
