"""Ether amounts as people read and type them: exact decimals, never floats."""

from __future__ import annotations

import re

from dydx_airgap.shared.errors import InputError

WEI_PER_GWEI = 10**9
WEI_PER_ETH = 10**18
_GWEI_TEXT = re.compile(r"(0|[1-9][0-9]{0,5})(?:\.([0-9]{1,9}))?", re.ASCII)


def _decimal(value: int, scale: int, digits: int) -> str:
    whole, fraction = divmod(value, scale)
    tail = f"{fraction:0{digits}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def format_eth(wei: int) -> str:
    return f"{_decimal(wei, WEI_PER_ETH, 18)} ETH"


def format_gwei(wei: int) -> str:
    return f"{_decimal(wei, WEI_PER_GWEI, 9)} gwei"


def parse_gwei(text: str, what: str = "--priority-fee-gwei") -> int:
    """'1.5' → 1500000000 wei; at most 9 decimals and below a million gwei (a typo guard)."""
    match = _GWEI_TEXT.fullmatch(text.strip())
    if match is None:
        raise InputError(f"{what} {text[:30]!r} must be a plain decimal number of gwei like 1.5")
    whole, fraction = match.group(1), match.group(2) or ""
    return int(whole) * WEI_PER_GWEI + int(fraction.ljust(9, "0"))
