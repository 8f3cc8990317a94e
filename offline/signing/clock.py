"""The cold machine's idea of the API's clock, and how far a relay may move it.

dYdX accepted Ethereum-key signatures only within 30 s of its own clock, and a cold machine's clock is
often a little wrong. The relay can hand over a `time` payload (the API's time as the relay saw it). That
payload is unsigned: whoever controls the relay chooses what it says, so it may correct the cold clock only
within a few minutes; beyond that the operator must pass ``--accept-clock-offset`` after reading both clocks,
and even then a hard ceiling holds (a year-9999 time is a clear error, not an overflow).

Carrying the QR across takes time, so a payload read on the cold side is older than the moment it names.
That age is not clock error: a server time *behind* this clock by up to ``MAX_CARRY`` is taken as carry
time and moves nothing. A server time *ahead* of this clock can only mean this clock is behind (by at least
that much), so that difference is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.timestamps import iso_ms, now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import decode_payload

#: The largest correction a relay-supplied time may apply without ``--accept-clock-offset``.
MAX_CLOCK_OFFSET = timedelta(minutes=5)
#: How long a time payload may have taken to reach this machine; that lag is not counted as offset.
MAX_CARRY = timedelta(minutes=15)
#: The ceiling even with ``--accept-clock-offset``: past a week, set this machine's clock instead.
HARD_CLOCK_OFFSET = timedelta(days=7)


@dataclass(frozen=True)
class Clock:
    offset: timedelta  # API clock minus cold clock
    source: str
    #: How far from this machine's own clock anything signed with this clock may lie.
    bound: timedelta = MAX_CLOCK_OFFSET
    note: str = ""

    def __post_init__(self) -> None:
        if abs(self.offset) > self.bound:
            raise InputError(f"a clock offset of {self.offset.total_seconds():+.0f} s is beyond its bound")

    def now(self) -> datetime:
        return now_utc() + self.offset

    def describe(self) -> str:
        seconds = self.offset.total_seconds()
        warning = "  <-- accepted with --accept-clock-offset" if abs(self.offset) > MAX_CLOCK_OFFSET else ""
        return f"{seconds:+.1f} s from {self.source}{warning}{self.note}"

    def check_within_own_window(self, moments: list[datetime], ahead: timedelta) -> None:
        """Refuse timestamps outside this machine's own clock ± the accepted offset (plus ``ahead``, the
        ladder's own forward reach): whatever the relay said, nothing is signed for a distant time."""
        cold = now_utc()
        low, high = cold - self.bound, cold + self.bound + ahead
        for moment in moments:
            if not low <= moment <= high:
                raise InputError(
                    f"timestamp {iso_ms(moment)} is outside this machine's clock window "
                    f"({iso_ms(low)} .. {iso_ms(high)}); check this machine's clock"
                )


LOCAL_CLOCK = Clock(timedelta(0), "this machine's clock (no time payload given)")


def clock_from_time_payload(path: Path, network_id: int, accept_offset: bool = False) -> Clock:
    payload = decode_payload(read_untrusted_file(path))
    if payload.kind != "time":
        raise InputError(f"{path} is a {payload.kind} payload, not a time payload")
    screen(dict(payload.body), where=f"time payload {path.name}", include_keys=False)
    if payload.network_id != network_id:
        raise InputError(f"time payload is for network {payload.network_id}, not {network_id}")
    server = parse_iso_ms(payload.body["server_time"])
    cold = now_utc()
    ahead = server - cold
    both = f"the API said {iso_ms(server)}, this machine says {iso_ms(cold)}"
    source = f"time payload {payload.fingerprint}"
    if timedelta(0) >= ahead >= -MAX_CARRY:
        lag = -ahead.total_seconds()
        return Clock(timedelta(0), source, note=f" (payload read {lag:.0f} s after it was made: carry time)")
    if abs(ahead) > HARD_CLOCK_OFFSET:
        raise InputError(f"the time payload is {ahead.total_seconds():+.0f} s off ({both}): set this clock")
    if abs(ahead) > MAX_CLOCK_OFFSET and not accept_offset:
        raise InputError(
            f"the time payload would move this clock by {ahead.total_seconds():+.0f} s, more than "
            f"{MAX_CLOCK_OFFSET.total_seconds():.0f} s, or is over {MAX_CARRY.total_seconds():.0f} s old "
            f"({both}); fetch a fresh one, or check both clocks and pass --accept-clock-offset"
        )
    bound = max(MAX_CLOCK_OFFSET, abs(ahead))
    return Clock(ahead, source, bound=bound, note=f" ({both})")


def check_not_expired(expires: str | None, clock: Clock, what: str) -> None:
    """A request whose validity has already ended is refused, by the corrected and by this machine's clock
    (the review may have taken minutes)."""
    if expires is None:
        return
    end = parse_iso_ms(expires)
    if end <= clock.now() or end <= now_utc() - clock.bound:
        raise InputError(f"{what} would be valid only until {expires}, which has already passed; sign again")
