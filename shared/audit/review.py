"""What a person reviews in each artefact: its fields decoded, amounts exact, contracts named.

Rows are (label, value) pairs of plain text; the HTML report escapes them. Nothing here judges validity —
that is :mod:`.verify` — it only shows what the bytes say, computed from the bytes (never from text a
relay supplied). The onboarding signature is shown shortened: it is the seed of the default API
credentials, and a report is read by more people than the bundle.
"""

from __future__ import annotations

from typing import Any

from dydx_airgap.shared.dydx_v3.calldata import (
    UNLIMITED_ALLOWANCE,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    decode_calldata,
    format_asset_id,
    format_usdc,
)
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    eth_private_action_digest,
    onboarding_action_digest,
)
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.errors import AirgapError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction
from dydx_airgap.shared.transport.payload import Payload

Rows = list[tuple[str, str]]


def exact_units(value: int, decimals: int) -> str:
    """An integer amount of base units as an exact decimal: (1500000000000000, 18) -> '0.0015'."""
    whole, fraction = divmod(value, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def wei_text(wei: int) -> str:
    return f"{wei} wei = {exact_units(wei, 18)} ETH"


def gwei_text(wei: int) -> str:
    return f"{wei} wei = {exact_units(wei, 9)} gwei"


def shorten(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def network_label(chain_id: int) -> str:
    network = NETWORKS.get(chain_id)
    return network.label if network else f"unknown network (chain id {chain_id})"


def _contract(chain_id: int, address: str | None) -> str:
    if address is None:
        return "(contract creation)"
    network = NETWORKS.get(chain_id)
    if network is not None:
        if same_address(address, network.stark_perpetual):
            return f"{address} ({network.name} StarkPerpetual)"
        if same_address(address, network.usdc):
            return f"{address} ({network.name} USDC)"
    return f"{address} (not a contract of this network)"


def calldata_rows(data: bytes) -> Rows:
    try:
        call = decode_calldata(data)
    except AirgapError as exc:
        return [("calldata", f"0x{data.hex()[:40]}… — not decodable: {exc.message}")]
    if isinstance(call, RegisterUserCall):
        return [
            ("function", "registerUser(address ethKey, uint256 starkKey, bytes signature)"),
            ("ethKey", call.eth_key),
            ("starkKey", f"0x{call.stark_key:064x}"),
            ("operator signature", "0x" + call.signature.hex()),
        ]
    if isinstance(call, ApproveCall):
        amount = (
            "unlimited (2^256 - 1)"
            if call.amount == UNLIMITED_ALLOWANCE
            else f"{format_usdc(call.amount)} USDC"
        )
        return [
            ("function", "approve(address spender, uint256 amount)"),
            ("spender", call.spender),
            ("amount", f"{amount} ({call.amount} base units)"),
        ]
    assert isinstance(call, DepositCall)
    return [
        (
            "function",
            "deposit(uint256 starkKey, uint256 assetType, uint256 vaultId, uint256 quantizedAmount)",
        ),
        ("starkKey", f"0x{call.stark_key:064x}"),
        ("assetType", format_asset_id(call.asset_type)),
        ("vaultId (positionId)", str(call.vault_id)),
        (
            "quantizedAmount",
            f"{call.quantized_amount} ({format_usdc(call.quantized_amount)} USDC at quantum 1)",
        ),
    ]


def _transaction_rows(tx: dict[str, Any], chain_id: int) -> Rows:
    data = bytes.fromhex(tx["data"][2:])
    return [
        ("chain id", str(tx["chain_id"])),
        ("to", _contract(chain_id, tx["to"])),
        ("nonce", str(tx["nonce"])),
        ("value", wei_text(tx["value"])),
        ("gas limit", str(tx["gas_limit"])),
        ("max fee per gas", gwei_text(tx["max_fee_per_gas"])),
        ("max priority fee", gwei_text(tx["max_priority_fee_per_gas"])),
        ("maximum cost", wei_text(tx["gas_limit"] * tx["max_fee_per_gas"])),
        *calldata_rows(data),
    ]


def payload_rows(payload: Payload) -> Rows:
    """The review fields of one payload (envelope first, then the kind's own)."""
    rows: Rows = [
        ("kind", payload.kind),
        ("network", network_label(payload.network_id)),
        ("address", payload.address or "-"),
        ("payload id", payload.id),
        ("fingerprint", payload.fingerprint),
        ("created", payload.created),
        ("expires", payload.expires or "-"),
    ]
    if payload.answers:
        rows.append(("answers", payload.answers))
    if payload.origin is not None:
        rows.append(
            ("origin signature", f"{shorten(payload.origin)} (verified: the cold key, {payload.address})")
        )
    body = payload.body
    try:
        rows += _body_rows(payload, body)
    except (AirgapError, KeyError, ValueError, TypeError) as exc:
        rows.append(("body", f"not decodable ({type(exc).__name__})"))
    return rows


def _body_rows(payload: Payload, body: Any) -> Rows:
    chain = payload.network_id
    if payload.kind == "public-key":
        return [
            ("account index", str(body["account"])),
            ("derivation path", str(body["derivation_path"] or "-")),
            ("STARK public key", body["stark_public_key"]),
            ("STARK public key y", body["stark_public_key_y"]),
            ("default API key id", body["api_key"]),
        ]
    if payload.kind == "onboarding-request":
        return [
            ("account index", str(body["account"])),
            ("request", f"{body['method']} {body['request_path']}"),
            ("body sent", body["body"]),
            ("EIP-712 action", f"dYdX {{action: {ONBOARDING_ACTION!r}}}"),
            ("EIP-712 digest", "0x" + onboarding_action_digest(chain, ONBOARDING_ACTION).hex()),
            ("signature", shorten(body["signature"]) + " (shortened: it seeds the default API credentials)"),
            ("STARK public key", body["stark_public_key"]),
        ]
    if payload.kind == "eth-private-request":
        rows = [
            ("action", body["action"]),
            ("request", f"{body['method']} {body['request_path']}"),
            ("body", body["body"]),
            ("valid", f"{body['valid_from']} .. {body['valid_until']}"),
            ("rungs", str(len(body["rungs"]))),
        ]
        for i, rung in enumerate(body["rungs"]):
            digest = eth_private_action_digest(
                chain, body["method"], body["request_path"], body["body"], rung["timestamp"]
            )
            rows.append((f"rung {i}", f"{rung['timestamp']}  EIP-712 digest 0x{digest.hex()}"))
        return rows
    if payload.kind == "tx-request":
        ctx = body["context"]
        return [
            ("action", body["action"]),
            *_transaction_rows(body["transaction"], chain),
            ("context: STARK key", ctx["stark_public_key"]),
            ("context: position id", str(ctx["position_id"] or "-")),
            ("context: amount", f"{ctx['amount']} USDC" if ctx["amount"] else "-"),
            ("context: base fee", gwei_text(ctx["base_fee_per_gas"])),
            ("context: node", ctx["rpc"]),
        ]
    if payload.kind == "signed-tx":
        signed = decode_signed_transaction(bytes.fromhex(body["raw"][2:]))
        tx = signed.transaction
        as_dict = {
            "chain_id": tx.chain_id,
            "to": tx.to_address,
            "nonce": tx.nonce,
            "value": tx.value,
            "gas_limit": tx.gas_limit,
            "max_fee_per_gas": tx.max_fee_per_gas,
            "max_priority_fee_per_gas": tx.max_priority_fee_per_gas,
            "data": "0x" + tx.data.hex(),
        }
        return [
            ("action", body["action"]),
            ("transaction hash", body["tx_hash"]),
            ("signed by (recovered)", signed.sender_address),
            ("answers tx-request SHA-256", body["request_sha256"]),
            *_transaction_rows(as_dict, chain),
        ]
    if payload.kind == "time":
        return [
            ("server time", body["server_time"]),
            ("relay time", body["relay_time"]),
            ("source", body["source"]),
        ]
    return []
