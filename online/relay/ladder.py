"""Choosing the rung of a timestamp ladder that the API will accept now.

The cold side signs one Ethereum-key call at successive timestamps (a ladder), because carrying a payload
across the air gap takes longer than dYdX's ±30 s window. At submission the relay sends the rung closest
to the server's clock *from below*: dYdX documented the window but never how it treated timestamps from
the future (spec dydx-v3.md §9), so a rung in the past is preferred, and a future rung is used only when no
other fits. A small margin keeps a rung from expiring on the way to the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dydx_airgap.shared.errors import PolicyError
from dydx_airgap.shared.timestamps import SERVER_WINDOW_SECONDS, iso_ms, parse_iso_ms

#: Seconds kept free at both edges of the server window for the trip to the server.
EDGE_MARGIN_SECONDS = 3.0
#: A rung at most this far in the server's future counts as "now" (clocks and rounding).
FUTURE_TOLERANCE_SECONDS = 5.0


@dataclass(frozen=True)
class Rung:
    index: int
    timestamp: str
    moment: datetime
    signature: str


def rungs_of(body: Mapping[str, Any]) -> tuple[Rung, ...]:
    return tuple(
        Rung(i, r["timestamp"], parse_iso_ms(r["timestamp"]), r["signature"])
        for i, r in enumerate(body["rungs"])
    )


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def usable_interval(
    rungs: Sequence[Rung],
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    window: float = SERVER_WINDOW_SECONDS,
    margin: float = EDGE_MARGIN_SECONDS,
) -> tuple[datetime, datetime]:
    """When (by the server's clock) some rung of the ladder is first and last inside dYdX's window."""
    if not rungs:
        raise PolicyError("the ladder has no rungs")
    usable = timedelta(seconds=window - margin)
    starts = min(r.moment for r in rungs) - usable
    ends = max(r.moment for r in rungs) + usable
    if valid_from is not None:
        starts = max(starts, valid_from)
    if valid_until is not None:
        ends = min(ends, valid_until)
    return starts, ends


def choose_rung(
    rungs: Sequence[Rung],
    server_now: datetime,
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    window: float = SERVER_WINDOW_SECONDS,
    margin: float = EDGE_MARGIN_SECONDS,
) -> Rung:
    """The newest rung not in the future by more than a few seconds; else the nearest future one.

    Raises PolicyError with one line saying when the ladder becomes usable or when it expired.
    """
    usable = timedelta(seconds=window - margin)
    starts, ends = usable_interval(
        rungs, valid_from=valid_from, valid_until=valid_until, window=window, margin=margin
    )
    if server_now < starts:
        wait = _seconds(starts - server_now)
        raise PolicyError(
            f"ladder not yet valid, first rung in {wait:.0f} s (server time {iso_ms(server_now)}); "
            "pass --wait to wait for it"
        )
    if server_now > ends:
        raise PolicyError(f"ladder expired at {iso_ms(ends)} (server time is {iso_ms(server_now)})")
    inside = [r for r in rungs if abs(r.moment - server_now) <= usable]
    preferred = [r for r in inside if _seconds(r.moment - server_now) <= FUTURE_TOLERANCE_SECONDS]
    if preferred:
        return max(preferred, key=lambda r: r.moment)
    if inside:
        return min(inside, key=lambda r: r.moment)
    later = min((r for r in rungs if r.moment > server_now), key=lambda r: r.moment)
    wait = _seconds(later.moment - usable - server_now)
    raise PolicyError(
        f"no rung of the ladder is within {window - margin:.0f} s of the server time "
        f"{iso_ms(server_now)} (a gap between rungs); the next one is usable in {wait:.0f} s"
    )
