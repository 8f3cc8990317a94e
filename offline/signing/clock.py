"""The cold machine's idea of the API's clock.

dYdX accepted Ethereum-key signatures only within 30 s of its own clock, and a cold machine's clock is
often wrong. The relay can hand over a `time` payload (the API's time as the relay saw it); the offset
between that and the cold clock at the moment of reading is applied to every timestamp we sign. Carrying
the payload across takes time, so the estimate lags the API by that delay — the signing ladder covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.timestamps import now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import decode_payload

#: An offset larger than this is worth a warning on the review screen.
LARGE_OFFSET = timedelta(minutes=5)


@dataclass(frozen=True)
class Clock:
    offset: timedelta  # API clock minus cold clock
    source: str

    def now(self) -> datetime:
        return now_utc() + self.offset

    def describe(self) -> str:
        seconds = self.offset.total_seconds()
        warning = "  <-- this machine's clock is far off; check it" if abs(self.offset) > LARGE_OFFSET else ""
        return f"{seconds:+.1f} s from {self.source}{warning}"


LOCAL_CLOCK = Clock(timedelta(0), "this machine's clock (no time payload given)")


def clock_from_time_payload(path: Path, network_id: int) -> Clock:
    payload = decode_payload(read_untrusted_file(path))
    if payload.kind != "time":
        raise InputError(f"{path} is a {payload.kind} payload, not a time payload")
    screen(dict(payload.body), where=f"time payload {path.name}", include_keys=False)
    if payload.network_id != network_id:
        raise InputError(f"time payload is for network {payload.network_id}, not {network_id}")
    server = parse_iso_ms(payload.body["server_time"])
    # The cold clock may be off by any amount, so it cannot judge how old the payload is; the offset is
    # shown on the review screen, and a large one is called out there for the operator to question.
    return Clock(offset=server - now_utc(), source=f"time payload {payload.fingerprint}")
