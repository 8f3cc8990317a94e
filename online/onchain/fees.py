"""EIP-1559 fees for a transaction that will be signed minutes, perhaps an hour, after it is prepared.

The base fee of the *next* block is read from ``eth_feeHistory`` (its last ``baseFeePerGas`` entry), or
from the latest block if the node lacks that method. The priority fee is the operator's, else the node's
``eth_maxPriorityFeePerGas``, else a fixed modest tip. ``maxFeePerGas`` is twice the base fee plus the tip:
the base fee rises by at most 12.5 % per full block, so doubling keeps the transaction includable through
at least six consecutive full blocks — and what is not used is not paid (the sender pays base fee + tip).
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError, quantity
from dydx_airgap.shared.errors import RemoteError

GWEI = 10**9
BASE_FEE_HEADROOM = 2
#: Used only when the node suggests no priority fee.
FALLBACK_PRIORITY_FEE = 1_500_000_000


@dataclass(frozen=True)
class FeeSuggestion:
    base_fee_per_gas: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    priority_source: str  # "--priority-fee-gwei", "node suggestion" or "fixed fallback"


def next_base_fee(rpc: EthRpc) -> int:
    try:
        history = rpc.fee_history(1, "latest", [])
        fees = history.get("baseFeePerGas")
        if isinstance(fees, list) and fees:
            return quantity(fees[-1], "next base fee")
    except RpcCallError:
        pass  # not every node offers eth_feeHistory; the latest block also tells
    block = rpc.block("latest")
    if "baseFeePerGas" not in block:
        raise RemoteError("the node's latest block has no base fee: this is not an EIP-1559 chain")
    return quantity(block["baseFeePerGas"], "base fee")


def suggest_fees(rpc: EthRpc, priority_fee: int | None = None) -> FeeSuggestion:
    """Fees for a type-2 transaction now; ``priority_fee`` (wei) overrides the node's tip."""
    base = next_base_fee(rpc)
    if priority_fee is not None:
        tip, source = priority_fee, "--priority-fee-gwei"
    else:
        try:
            tip, source = rpc.max_priority_fee(), "node suggestion"
        except RpcCallError:
            tip, source = FALLBACK_PRIORITY_FEE, "fixed fallback (the node suggests none)"
    return FeeSuggestion(
        base_fee_per_gas=base,
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=BASE_FEE_HEADROOM * base + tip,
        priority_source=source,
    )
