"""``--expires-in``: how long a cold-signed v4 transaction stays valid, as a timeout height (spec §B7).

SDK v0.50 has no wall-clock expiry, only ``timeout_height`` (TxBody field 3): the chain refuses the
transaction in any block above it (code 30). The relay turns a duration into blocks at the chain's pace
(about one block a second) and adds them to the latest height it read. The duration is bounded: too
short and the person carrying QR codes cannot make it; too long and a signed transaction lies around
able to move funds long after anyone remembers it. The relay must also refuse to broadcast past it —
``delivery`` does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dydx_airgap.shared.errors import InputError

#: dYdX Chain makes about one block a second [spec §B7: secondary source]; the bound below holds either way.
SECONDS_PER_BLOCK = 1.0
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 24 * 3600
DEFAULT_EXPIRY_SECONDS = 3600
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Expiry:
    latest_height: int
    blocks: int

    @property
    def timeout_height(self) -> int:
        return self.latest_height + self.blocks


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m`` or ``2h`` in seconds, within the bounds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise InputError(f"--expires-in {text[:40]!r} is not a duration like 600s, 30m or 2h")
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if not MIN_EXPIRY_SECONDS <= seconds <= MAX_EXPIRY_SECONDS:
        raise InputError(
            f"--expires-in must be from {MIN_EXPIRY_SECONDS} s to {MAX_EXPIRY_SECONDS // 3600} h, "
            f"not {seconds} s"
        )
    return seconds


def expiry_from(latest_height: int, seconds: int) -> Expiry:
    """The timeout height ``seconds`` from now at the chain's pace, counted from ``latest_height``."""
    if isinstance(latest_height, bool) or not isinstance(latest_height, int) or latest_height < 1:
        raise InputError("the latest height is a positive integer")
    if not MIN_EXPIRY_SECONDS <= seconds <= MAX_EXPIRY_SECONDS:
        raise InputError(f"an expiry is from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS} seconds")
    return Expiry(latest_height, math.ceil(seconds / SECONDS_PER_BLOCK))
