"""Cosmos ``Coin``: a denomination and a non-negative integer amount carried as a decimal string.

The SDK's ``Int`` is at most 256 bits and prints without sign or leading zeros; denominations follow the
SDK's default pattern. A list of coins (``Coins``) must be sorted by denom without repeats, or the chain
refuses it — we refuse it first, so the cold side never signs something the chain cannot run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dydx_airgap.shared.errors import FormatError, InputError

from . import protobuf as pb

_DENOM = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
_AMOUNT = re.compile(r"0|[1-9][0-9]{0,77}")
MAX_AMOUNT = 2**256 - 1

_SCHEMA: pb.Schema = {
    1: pb.FieldSpec(pb.Kind.STRING, name="denom"),
    2: pb.FieldSpec(pb.Kind.STRING, name="amount"),
}


@dataclass(frozen=True)
class Coin:
    denom: str
    amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.denom, str) or not _DENOM.fullmatch(self.denom):
            raise InputError(f"{self.denom!r} is not a valid Cosmos denomination")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InputError("a coin amount is an integer")
        if not 0 <= self.amount <= MAX_AMOUNT:
            raise InputError("a coin amount is between 0 and 2**256-1")

    def encode(self) -> bytes:
        return pb.string_field(1, self.denom) + pb.string_field(2, str(self.amount))

    @classmethod
    def decode(cls, data: bytes) -> Coin:
        fields = pb.decode_message(data, _SCHEMA, "Coin")
        text = fields.string(2)
        if not _AMOUNT.fullmatch(text):
            raise FormatError(f"Coin: amount {text!r} is not a canonical decimal integer")
        try:
            coin = cls(fields.string(1), int(text))
        except InputError as exc:
            raise FormatError(f"Coin: {exc.message}") from None
        if coin.encode() != data:
            raise FormatError("Coin: not in canonical encoding")
        return coin

    def to_proto3_json(self) -> dict[str, str]:
        return {"denom": self.denom, "amount": str(self.amount)}


def check_coins(coins: tuple[Coin, ...], *, allow_empty: bool, what: str) -> tuple[Coin, ...]:
    """``coins`` if they form valid SDK ``Coins``: sorted by denom, no repeats, no zero amounts."""
    if not isinstance(coins, tuple) or not all(isinstance(c, Coin) for c in coins):
        raise InputError(f"{what}: expected a tuple of Coin")
    if not coins and not allow_empty:
        raise InputError(f"{what}: at least one coin is needed")
    denoms = [c.denom for c in coins]
    if denoms != sorted(set(denoms)):
        raise InputError(f"{what}: coins must be sorted by denomination, each denomination once")
    if any(c.amount == 0 for c in coins):
        raise InputError(f"{what}: a zero amount is not a valid coin in a list")
    return coins
