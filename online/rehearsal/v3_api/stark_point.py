"""STARK public keys as the API receives them: lenient hex in, a checked curve point out.

dydx-v3-python sends ``0x`` + minimal hex, the web app and v3-client send 64 hex digits without ``0x``;
both were accepted (spec dydx-v3.md §6.1), so parsing is lenient about the prefix, case and leading zeros
and strict about everything else. The point must lie on the STARK curve y² = x³ + αx + β (mod p) with
α = 1: StarkPerpetual's ``registerUser`` refuses a key that is 0, ≥ p or off the curve, so a key we
accepted could never be registered on-chain.

The curve and its field come from ``dydx_airgap.shared.stark``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dydx_airgap.shared.stark import FIELD_PRIME, is_point_on_curve

_HEX = re.compile(r"(0[xX])?([0-9a-fA-F]{1,64})")


class StarkKeyError(ValueError):
    """The text is not a usable STARK public key; ``param`` names the faulty request field."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def parse_field_element(text: object, name: str) -> int:
    if not isinstance(text, str):
        raise StarkKeyError(name, f"{name} must be a hex string")
    match = _HEX.fullmatch(text.strip())
    if not match:
        raise StarkKeyError(name, f"{name} must be up to 64 hex digits, optionally prefixed by 0x")
    value = int(match.group(2), 16)
    if value >= FIELD_PRIME:
        raise StarkKeyError(name, f"{name} is not below the STARK field prime")
    return value


def is_on_curve(x: int, y: int) -> bool:
    return is_point_on_curve(x, y)


@dataclass(frozen=True)
class StarkPublicKey:
    x: int
    y: int

    @classmethod
    def parse(cls, x_text: object, y_text: object) -> StarkPublicKey:
        x = parse_field_element(x_text, "starkKey")
        y = parse_field_element(y_text, "starkKeyYCoordinate")
        if x == 0:
            raise StarkKeyError("starkKey", "starkKey must not be 0")
        if not is_on_curve(x, y):
            raise StarkKeyError(
                "starkKeyYCoordinate", "starkKey and starkKeyYCoordinate are not a point on the STARK curve"
            )
        return cls(x, y)

    @property
    def x_hex(self) -> str:
        """64 lowercase hex digits without ``0x``: the web app's format, which dYdX returned."""
        return f"{self.x:064x}"

    @property
    def y_hex(self) -> str:
        return f"{self.y:064x}"
