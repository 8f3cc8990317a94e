"""The perpetual shared state: the words every state update commits to, and their hash.

Layout (spec escape-hatch.md §A5, all 32-byte words): [0] position root, [1] position tree height,
[2] order root, [3] order tree height, [4] nFunding, nFunding × (assetId, fundingIndex + 2^63),
the funding timestamp, nPrices, nPrices × (assetId, price), the system time. Funding indices are signed
32.32 fixed point stored biased; prices are unsigned 32.32 fixed point (collateral quanta per synthetic
quantum). The StarkPerpetual stores only keccak256 of these words (``shared_state_hash``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dydx_airgap.online.rehearsal.escape.leaf import BALANCE_BIAS, SIGNED_64_RANGE
from dydx_airgap.online.rehearsal.escape.tree import POSITION_TREE_HEIGHT
from dydx_airgap.shared.ethereum.keccak import keccak256

#: dYdX's order root as its frozen contract reports it (the order tree is not modelled here).
DYDX_ORDER_ROOT = 0x07CED9B79B31453A1D939AC7FC159188F369EE677D20385864C767FC391FA61B
ORDER_TREE_HEIGHT = 64


@dataclass(frozen=True)
class SharedState:
    position_root: int
    #: asset id → global funding index (signed 32.32); written in ascending asset-id order.
    funding: Mapping[int, int]
    #: asset id → oracle price (unsigned 32.32); written in ascending asset-id order.
    prices: Mapping[int, int]
    funding_timestamp: int
    system_time: int
    position_height: int = POSITION_TREE_HEIGHT
    order_root: int = DYDX_ORDER_ROOT
    order_height: int = ORDER_TREE_HEIGHT

    def words(self) -> tuple[int, ...]:
        if any(index not in SIGNED_64_RANGE for index in self.funding.values()):
            raise ValueError("funding indices are signed 64-bit values")
        if any(not 0 <= price < 2**64 for price in self.prices.values()):
            raise ValueError("prices are unsigned 64-bit values")
        words = [self.position_root, self.position_height, self.order_root, self.order_height]
        words.append(len(self.funding))
        for asset_id in sorted(self.funding):
            words.extend((asset_id, self.funding[asset_id] + BALANCE_BIAS))
        words.extend((self.funding_timestamp, len(self.prices)))
        for asset_id in sorted(self.prices):
            words.extend((asset_id, self.prices[asset_id]))
        words.append(self.system_time)
        return tuple(words)

    @classmethod
    def from_words(cls, words: Sequence[int]) -> SharedState:
        """Parse a state strictly: every count must match the length exactly."""
        try:
            n_funding = words[4]
            prices_count_at = 5 + 2 * n_funding + 1
            n_prices = words[prices_count_at]
        except IndexError:
            raise ValueError("the shared state ends inside its funding or price table") from None
        if len(words) != prices_count_at + 1 + 2 * n_prices + 1:
            raise ValueError("the shared state's length does not match its funding and price counts")
        funding = {words[5 + 2 * i]: words[6 + 2 * i] - BALANCE_BIAS for i in range(n_funding)}
        prices_at = prices_count_at + 1
        prices = {words[prices_at + 2 * i]: words[prices_at + 2 * i + 1] for i in range(n_prices)}
        return cls(
            position_root=words[0],
            position_height=words[1],
            order_root=words[2],
            order_height=words[3],
            funding=funding,
            funding_timestamp=words[5 + 2 * n_funding],
            prices=prices,
            system_time=words[-1],
        )


def shared_state_hash(words: Sequence[int]) -> bytes:
    """keccak256 of the words concatenated (what updateState stores and escape claims refer to)."""
    return keccak256(b"".join(word.to_bytes(32, "big") for word in words))
