"""An accepted escape proof, told to people (review screens, ``dydx-audit escape-proof``) and to scripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dydx_airgap.shared.dydx_v3.calldata import format_usdc
from dydx_airgap.shared.dydx_v3.escape.sources import EscapeData
from dydx_airgap.shared.dydx_v3.escape.state import FUNDING_BIAS, asset_name, decode_shared_state, fxp_text
from dydx_airgap.shared.dydx_v3.escape.verifier import EscapeProofError, VerifiedEscape, verify_escape


def _time(seconds: int) -> str:
    if not 0 <= seconds < 2**40:
        return f"{seconds} (not a plausible Unix time)"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: dYdX's StarkPerpetual position tree height (getVaultTreeHeight on mainnet, escape-hatch.md §A1).
DYDX_TREE_HEIGHT = 64


def signed_usdc(base_units: int) -> str:
    return f"-{format_usdc(-base_units)}" if base_units < 0 else format_usdc(base_units)


def verify_escape_data(data: EscapeData) -> VerifiedEscape:
    """Verify the words and that they are about what the source says: its STARK key and position id.

    Stricter than the contract in two ways: the shared state's counts must add up to its length (the
    contract would hash extra words along, and no real state update has them), and the tree height must be
    dYdX's 64 (the contract compares it only with the state, which a crafted state can wrap around)."""
    decode_shared_state(data.shared_state)
    result = verify_escape(data.merkle_proof, data.n_assets, data.shared_state)
    if result.tree_height != DYDX_TREE_HEIGHT:
        raise EscapeProofError(
            f"the state's position tree height is {result.tree_height}, not dYdX's {DYDX_TREE_HEIGHT} "
            "(getVaultTreeHeight)"
        )
    if result.stark_key != data.stark_key:
        raise EscapeProofError(
            f"the proof is for STARK key 0x{result.stark_key:064x}, not the stated 0x{data.stark_key:064x}"
        )
    if result.position_id != data.position_id:
        raise EscapeProofError(
            f"the proof is for position {result.position_id}, not the stated {data.position_id}"
        )
    return result


def escape_rows(result: VerifiedEscape, shared_state: Sequence[int]) -> list[tuple[str, str]]:
    """Label/value rows: the position, every asset with funding and price, the amount, root, hash, fact."""
    state = decode_shared_state(shared_state)
    rows = [
        ("position id", str(result.position_id)),
        ("STARK key", f"0x{result.stark_key:064x}"),
        ("collateral balance", f"{signed_usdc(result.collateral_balance)} USDC"),
    ]
    for asset in result.assets:
        funding = fxp_text(-asset.funding_delta)
        rows.append(
            (
                f"asset {asset_name(asset.asset_id)}",
                f"balance {asset.balance}, price {fxp_text(asset.price)}, value {fxp_text(asset.value_fxp)} "
                f"USDC, funding {funding} USDC (index {asset.global_funding - FUNDING_BIAS}, cached "
                f"{asset.cached_funding - FUNDING_BIAS})",
            )
        )
    rows += [
        ("withdrawal amount", f"{format_usdc(result.amount)} USDC ({result.amount} base units)"),
        ("position root", f"0x{result.root:064x} (height {result.tree_height})"),
        ("state time", f"{_time(state.system_time)} (funding index time {_time(state.funding_timestamp)})"),
        ("shared state", f"{len(shared_state)} words, keccak 0x{result.shared_state_hash.hex()}"),
        ("escape fact", "0x" + result.fact.hex()),
    ]
    return rows


def escape_json(result: VerifiedEscape, shared_state: Sequence[int]) -> dict[str, Any]:
    state = decode_shared_state(shared_state)
    return {
        "valid": True,
        "position_id": str(result.position_id),
        "stark_key": f"0x{result.stark_key:064x}",
        "n_assets": result.n_assets,
        "collateral_balance": str(result.collateral_balance),
        "assets": [
            {
                "asset_id": f"0x{asset.asset_id:x}",
                "name": asset_name(asset.asset_id),
                "balance": str(asset.balance),
                "price_fxp": str(asset.price),
                "global_funding_index": str(asset.global_funding - FUNDING_BIAS),
                "cached_funding_index": str(asset.cached_funding - FUNDING_BIAS),
            }
            for asset in result.assets
        ],
        "amount": str(result.amount),
        "amount_usdc": format_usdc(result.amount),
        "root": f"0x{result.root:064x}",
        "tree_height": result.tree_height,
        "shared_state_hash": "0x" + result.shared_state_hash.hex(),
        "fact": "0x" + result.fact.hex(),
        "system_time": state.system_time,
    }
