"""A dYdX v3 position as the position tree stores it: its items, how they are packed, its leaf hash.

A leaf is not one hash of the position but a hash chain over its items (spec escape-hatch.md §A5): one
word per synthetic asset in ascending asset-id order, then the STARK key, then the collateral word. The
chain starts at 0 and folds each item in with Pedersen. The escape verifier walks the same chain as the
first nAssets + 2 levels of the Merkle proof, which is why the chain's intermediate states matter here.

Packing, in 32.32 fixed point where it applies:
* asset word = assetId · 2^128 + (cachedFunding + 2^63) · 2^64 + (balance + 2^63);
* collateral word = (collateralBalance + 2^63) · 2^16 + nAssets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.shared.stark.constants import FIELD_PRIME
from dydx_airgap.shared.stark.pedersen import pedersen_hash

BALANCE_BIAS = 2**63
#: Balances and funding indices are signed 64-bit values, stored biased by 2^63.
SIGNED_64_RANGE = range(-(2**63), 2**63)
#: Asset ids must keep the packed word below 2^252 and the item below the field prime (Correction 6).
ASSET_ID_BOUND = 2**120
MAX_ASSETS = 2**16 - 1
POSITION_ID_BOUND = 2**64


@dataclass(frozen=True)
class AssetBalance:
    """A synthetic asset held in a position."""

    asset_id: int
    #: Signed, in the synthetic asset's quantums.
    balance: int
    #: The global funding index (signed 32.32 fixed point) when the position last settled funding.
    cached_funding: int

    def __post_init__(self) -> None:
        if not 0 <= self.asset_id < ASSET_ID_BOUND:
            raise ValueError(f"asset id {self.asset_id:#x} is not below 2^120")
        if self.balance not in SIGNED_64_RANGE or self.cached_funding not in SIGNED_64_RANGE:
            raise ValueError("asset balance and cached funding are signed 64-bit values")


@dataclass(frozen=True)
class Position:
    """A perpetual position: its tree index, owner key, collateral and synthetic assets."""

    position_id: int
    stark_key: int
    #: Signed quantized collateral (USDC base units for dYdX, quantum 1).
    collateral: int
    #: Synthetic assets; stored sorted by asset id, ids unique.
    assets: tuple[AssetBalance, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.position_id < POSITION_ID_BOUND:
            raise ValueError("a position id is below 2^64")
        if not 0 <= self.stark_key < FIELD_PRIME:
            raise ValueError("a STARK key is a field element")
        if self.collateral not in SIGNED_64_RANGE:
            raise ValueError("the collateral balance is a signed 64-bit value")
        ordered = tuple(sorted(self.assets, key=lambda asset: asset.asset_id))
        if len({asset.asset_id for asset in ordered}) != len(ordered) or len(ordered) > MAX_ASSETS:
            raise ValueError("a position holds each asset at most once, and fewer than 2^16 of them")
        object.__setattr__(self, "assets", ordered)

    @property
    def n_assets(self) -> int:
        return len(self.assets)


def asset_word(asset: AssetBalance) -> int:
    return (
        (asset.asset_id << 128)
        | ((asset.cached_funding + BALANCE_BIAS) << 64)
        | (asset.balance + BALANCE_BIAS)
    )


def collateral_word(position: Position) -> int:
    return ((position.collateral + BALANCE_BIAS) << 16) | position.n_assets


def position_items(position: Position) -> tuple[int, ...]:
    """The leaf's items in hash order: asset words, the STARK key, the collateral word."""
    return (*(asset_word(asset) for asset in position.assets), position.stark_key, collateral_word(position))


def hash_chain(items: Sequence[int]) -> tuple[int, ...]:
    """Every state of the chain: 0, H(0, item_0), H(H(0, item_0), item_1), ...; the last is the leaf."""
    states = [0]
    for item in items:
        states.append(pedersen_hash(states[-1], item))
    return tuple(states)


def leaf_hash(position: Position) -> int:
    return hash_chain(position_items(position))[-1]


#: The leaf of a position nobody holds (key 0, no collateral, no assets): every unused tree slot.
EMPTY_POSITION = Position(position_id=0, stark_key=0, collateral=0)
