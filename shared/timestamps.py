"""dYdX timestamps: ISO-8601 UTC with milliseconds and ``Z`` (JavaScript's Date.toISOString())."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dydx_airgap.shared.errors import InputError

_ISO_MS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z")

#: dYdX accepted a signed timestamp only within this many seconds of its own clock.
SERVER_WINDOW_SECONDS = 30


def iso_ms(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InputError("timestamps must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_ms(text: str) -> datetime:
    """Parse exactly the format dYdX signs; anything else (offsets, missing ms) is refused."""
    found = _ISO_MS.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise InputError(f"timestamp must look like 2021-01-08T10:06:12.500Z, not {str(text)[:40]!r}")
    year, month, day, hour, minute, second, millisecond = map(int, found.groups())
    try:  # datetime refuses what strptime refused: month 13, 30 February, hour 24, second 60 …
        return datetime(year, month, day, hour, minute, second, millisecond * 1000, tzinfo=UTC)
    except ValueError as exc:
        raise InputError(f"timestamp {text!r} is not a real date and time") from exc


def now_utc() -> datetime:
    return datetime.now(UTC)


def within_window(timestamp: datetime, server_now: datetime, window: float = SERVER_WINDOW_SECONDS) -> bool:
    return abs(timestamp - server_now) <= timedelta(seconds=window)
