"""What a position may withdraw through the escape hatch, in exact integers.

value (32.32) = collateral · 2^32 + Σ balance_i · price_i;
funding (32.32) = −Σ balance_i · (globalFunding_i − cachedFunding_i), rounded toward −∞ to a whole
collateral unit on its own (spec escape-hatch.md Correction 8);
amount = ⌊(value + rounded funding) / 2^32⌋.
The verifier computes this in wrapping uint256 arithmetic; for balances, prices and indices of 64 bits
the exact result fits in an int256, so plain Python integers give the same number.
"""

from __future__ import annotations

from collections.abc import Mapping

from dydx_airgap.online.rehearsal.escape.leaf import Position

FXP_BITS = 32


def withdrawal_amount(position: Position, funding: Mapping[int, int], prices: Mapping[int, int]) -> int:
    """The amount (quantized collateral) verifyEscape registers; ≤ 0 means it refuses the position."""
    value = position.collateral << FXP_BITS
    funding_total = 0
    for asset in position.assets:
        value += asset.balance * prices[asset.asset_id]
        funding_total -= asset.balance * (funding[asset.asset_id] - asset.cached_funding)
    # Python's >> floors, which is the rounding toward −∞ the contract gets by clearing the low bits.
    rounded_funding = (funding_total >> FXP_BITS) << FXP_BITS
    return (value + rounded_funding) >> FXP_BITS
