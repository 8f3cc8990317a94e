"""`sign tx`: review and sign an on-chain transaction the relay prepared (register, approve, deposit).

The relay supplies what a cold machine cannot know (nonce, fees, dYdX's registration signature, position id),
so everything it sent is treated as a claim to check. The review is built from the *calldata*, decoded here:
the contract is looked up in our own network table, every argument is compared with what this key and
network imply (the STARK key is re-derived locally), amounts are exact decimals, and fees are capped by the
operator. Anything unexpected is refused with a message naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.shared.dydx_v3.calldata import (
    UNLIMITED_ALLOWANCE,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    decode_calldata,
    format_usdc,
    usdc_to_base_units,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import DEFAULT_VARIANT, StarkKeyVariant
from dydx_airgap.shared.errors import FormatError, PolicyError
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction, SignedEip1559Transaction
from dydx_airgap.shared.ethereum.typed_signature import SECP256K1_N
from dydx_airgap.shared.timestamps import now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload

GWEI = 10**9
ETH = 10**18
DEFAULT_MAX_FEE_GWEI = Decimal(300)
DEFAULT_MAX_COST_ETH = Decimal("0.1")
#: An allowance above this (in USDC) is as dangerous as an unlimited one and needs the same flag.
DEFAULT_MAX_APPROVE_USDC = Decimal(1_000_000)


@dataclass(frozen=True)
class TxPolicy:
    max_fee_per_gas_wei: int
    max_cost_wei: int
    allow_unlimited_approve: bool = False
    #: Allowances above min(this, the amount the request states) need ``allow_unlimited_approve``.
    max_approve_base_units: int = int(DEFAULT_MAX_APPROVE_USDC * 10**6)


@dataclass(frozen=True)
class ReviewedTx:
    transaction: Eip1559Transaction
    rows: list[tuple[str, str]]
    notes: list[str]


def _allowance_text(base_units: int) -> str:
    if base_units == UNLIMITED_ALLOWANCE:
        return "UNLIMITED (2^256-1)"
    if base_units >= 10**30:
        return f"{base_units} base units (about 2^{base_units.bit_length() - 1})"
    return f"{format_usdc(base_units)} USDC ({base_units} base units)"


def _refuse(field: str, why: str) -> PolicyError:
    return PolicyError(f"refused: {field} {why}; nothing was signed")


def eth_text(wei: int) -> str:
    """Exact ETH with no float rounding."""
    whole, frac = divmod(wei, ETH)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".") + " ETH"


def gwei_text(wei: int) -> str:
    whole, frac = divmod(wei, GWEI)
    return (f"{whole}.{frac:09d}".rstrip("0").rstrip(".") or "0") + " gwei"


def _registration_signer_label(signer: str, network: Network) -> str:
    """Name the signer as dYdX's only when it is a user admin on record for this network: any key can sign
    the registration text, and only the contract (on chain) decides whether it is an admin."""
    if any(same_address(signer, admin) for admin in network.known_user_admins):
        return f"{signer}  (a known user-admin key of {network.name})"
    return (
        f"{signer}  (NOT a user-admin address on record for {network.name}: the contract accepts the "
        "registration only if this key is one of its user admins)"
    )


def _registration_signer(call: RegisterUserCall) -> str:
    """Who signed keccak("UserRegistration:" ‖ ethKey ‖ starkKey): shown so the operator sees dYdX's key."""
    import coincurve

    digest = keccak256(
        b"UserRegistration:" + parse_address(call.eth_key) + call.stark_key.to_bytes(32, "big")
    )
    sig = call.signature
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if not (1 <= r < SECP256K1_N and 1 <= s < SECP256K1_N and v in (27, 28)):
        raise _refuse("the registration signature", "is malformed")
    public = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([v - 27]), digest, hasher=None)
    return to_checksum_address(keccak256(public.format(compressed=False)[1:])[12:])


def _stark_key_mismatch(key: ColdKey, network: Network, variant: StarkKeyVariant, theirs: int) -> PolicyError:
    """Refuse a STARK key that is not the chosen variant's, naming the variant (and flag) it is, if any."""
    from dydx_airgap.offline.keys.recover import variant_of

    other = variant_of(key, network.chain_id, theirs)
    where = f"0x{theirs:064x} is not this account's {variant.value} key"
    if other is not None:
        return _refuse(
            "STARK key", f"{where}: it is this account's {other.value} key; sign with {other.flag}"
        )
    return _refuse("STARK key", f"{where}, nor any other variant's")


def review_tx_request(
    payload: Payload,
    network: Network,
    key: ColdKey,
    policy: TxPolicy,
    variant: StarkKeyVariant = DEFAULT_VARIANT,
) -> ReviewedTx:
    if payload.kind != "tx-request":
        raise FormatError(f"expected a tx-request payload, got {payload.kind}")
    screen(dict(payload.body), where="the transaction request", include_keys=False)
    body: dict[str, Any] = dict(payload.body)
    tx: dict[str, Any] = body["transaction"]
    ctx: dict[str, Any] = body["context"]
    action = body["action"]

    if payload.network_id != network.chain_id:
        raise _refuse("network", f"is {payload.network_id} but this key signs for {network.label}")
    if tx["chain_id"] != network.chain_id:
        raise _refuse("chain id", f"{tx['chain_id']} is not {network.label}'s {network.chain_id}")
    if payload.address is None or not same_address(payload.address, key.address):
        raise _refuse("address", f"{payload.address} is not this key's {key.address}")
    if payload.is_expired():
        raise _refuse("request", f"expired at {payload.expires}; prepare a fresh one")
    if tx["value"] != 0:
        raise _refuse("value", f"is {eth_text(tx['value'])}; these calls never send ether")

    call = decode_calldata(bytes.fromhex(tx["data"][2:]))
    expected_type = {"register": RegisterUserCall, "approve": ApproveCall, "deposit": DepositCall}[action]
    if not isinstance(call, expected_type):
        raise _refuse("function", f"{type(call).__name__} does not match the requested action {action}")

    own_stark = derive_account(key, network.chain_id, variant).stark.public_key
    rows: list[tuple[str, str]] = [("network", network.label), ("from", key.address)]
    notes: list[str] = []
    if isinstance(call, RegisterUserCall | DepositCall):
        if not same_address(tx["to"], network.stark_perpetual):
            raise _refuse(
                "contract", f"{tx['to']} is not {network.name}'s StarkPerpetual {network.stark_perpetual}"
            )
        rows.append(("contract", f"StarkPerpetual {network.stark_perpetual}"))
        if call.stark_key != own_stark:
            raise _stark_key_mismatch(key, network, variant, call.stark_key)
        if int(ctx["stark_public_key"], 16) != own_stark:
            raise _refuse("STARK key", "in the request's context is not this account's")
        rows.append(("key variant", f"{variant.value} ({variant.description})"))
    if isinstance(call, RegisterUserCall):
        if not same_address(call.eth_key, key.address):
            raise _refuse("ethKey", f"{call.eth_key} is not this key's address {key.address}")
        rows += [
            ("function", "registerUser(address ethKey, uint256 starkKey, bytes signature)"),
            ("ethKey", call.eth_key + "  (this key)"),
            ("starkKey", f"0x{call.stark_key:064x}  (matches the locally derived key)"),
            ("registration by", _registration_signer_label(_registration_signer(call), network)),
        ]
    elif isinstance(call, ApproveCall):
        if not same_address(tx["to"], network.usdc):
            raise _refuse("contract", f"{tx['to']} is not {network.name}'s USDC {network.usdc}")
        if not same_address(call.spender, network.stark_perpetual):
            raise _refuse(
                "spender", f"{call.spender} is not {network.name}'s StarkPerpetual {network.stark_perpetual}"
            )
        unlimited = call.amount == UNLIMITED_ALLOWANCE
        # Not only 2^256-1: any allowance beyond what this deposit needs (or the cap) lets the contract take
        # more than the operator meant to move; 2^256-2 or 10^30 base units is unlimited in all but name.
        stated = None if ctx["amount"] is None else usdc_to_base_units(ctx["amount"])
        limit = (
            policy.max_approve_base_units if stated is None else min(stated, policy.max_approve_base_units)
        )
        beyond = call.amount > limit
        if beyond and not policy.allow_unlimited_approve:
            what = (
                "an unlimited allowance" if unlimited else f"an allowance of {_allowance_text(call.amount)}"
            )
            bound = "the amount the request states" if stated is not None and stated <= limit else "the cap"
            raise _refuse(
                "amount",
                f"is {what}, above {format_usdc(limit)} USDC ({bound}); approve only what you deposit, or "
                "allow it with --allow-unlimited-approve",
            )
        if not beyond and stated is not None and stated != call.amount:
            raise _refuse(
                "amount", f"{format_usdc(call.amount)} USDC differs from the request's {ctx['amount']}"
            )
        rows += [
            ("contract", f"USDC {network.usdc}"),
            ("function", "approve(address spender, uint256 amount)"),
            ("spender", f"{call.spender}  (StarkPerpetual)"),
            (
                "amount",
                "UNLIMITED (2^256-1)"
                if unlimited
                else f"{_allowance_text(call.amount)}"
                + ("  <-- above the cap (--allow-unlimited-approve)" if beyond else ""),
            ),
        ]
        if beyond:
            notes.append(
                "This allowance lets the StarkPerpetual contract move far more USDC than this deposit needs."
            )
    elif isinstance(call, DepositCall):
        if call.asset_type != network.collateral_asset_id:
            raise _refuse("asset id", f"0x{call.asset_type:064x} is not {network.name}'s USDC collateral id")
        if ctx["position_id"] is not None and int(ctx["position_id"]) != call.vault_id:
            raise _refuse("position id", f"{call.vault_id} differs from the request's {ctx['position_id']}")
        if ctx["amount"] is not None and usdc_to_base_units(ctx["amount"]) != call.quantized_amount:
            raise _refuse(
                "amount",
                f"{format_usdc(call.quantized_amount)} USDC differs from the request's {ctx['amount']}",
            )
        rows += [
            (
                "function",
                "deposit(uint256 starkKey, uint256 assetType, uint256 vaultId, uint256 quantizedAmount)",
            ),
            ("starkKey", f"0x{call.stark_key:064x}  (matches the locally derived key)"),
            ("asset", f"USDC collateral 0x{call.asset_type:064x}"),
            ("position id", str(call.vault_id)),
            ("amount", f"{format_usdc(call.quantized_amount)} USDC ({call.quantized_amount} base units)"),
        ]

    max_fee, tip, gas = tx["max_fee_per_gas"], tx["max_priority_fee_per_gas"], tx["gas_limit"]
    if tip > max_fee:
        raise _refuse("fees", "priority fee exceeds the max fee")
    if max_fee > policy.max_fee_per_gas_wei:
        raise _refuse(
            "max fee per gas",
            f"{gwei_text(max_fee)} is above your cap of {gwei_text(policy.max_fee_per_gas_wei)}",
        )
    max_cost = max_fee * gas
    if max_cost > policy.max_cost_wei:
        raise _refuse(
            "maximum cost", f"{eth_text(max_cost)} is above your cap of {eth_text(policy.max_cost_wei)}"
        )
    rows += [
        ("nonce", str(tx["nonce"])),
        (
            "gas limit",
            f"{gas}  (node estimate {ctx['gas_estimate']})"
            if ctx["gas_estimate"] is not None
            else f"{gas}  (the node could not estimate it yet: earlier transactions are unmined)",
        ),
        (
            "fees",
            f"max {gwei_text(max_fee)}, priority {gwei_text(tip)} "
            f"(base fee was {gwei_text(ctx['base_fee_per_gas'])})",
        ),
        ("maximum total cost", eth_text(max_cost)),
    ]
    transaction = Eip1559Transaction(
        chain_id=tx["chain_id"],
        nonce=tx["nonce"],
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=max_fee,
        gas_limit=gas,
        to=parse_address(tx["to"]),
        value=0,
        data=bytes.fromhex(tx["data"][2:]),
    )
    rows.append(("signing hash", "0x" + transaction.signing_hash().hex()))
    if network.rehearsal:
        notes.append("LOCAL REHEARSAL network: nothing here touches a real chain.")
    return ReviewedTx(transaction, rows, notes)


def signed_tx_payload(
    key: ColdKey, request: Payload, signed: SignedEip1559Transaction, action: str
) -> Payload:
    return new_payload(
        "signed-tx",
        request.network_id,
        request.address,
        {
            "action": action,
            "raw": "0x" + signed.raw().hex(),
            "tx_hash": "0x" + signed.tx_hash.hex(),
            "request_sha256": request.digest.hex(),
        },
        answers=request.id,
        now=now_utc(),
        signer=key.origin_signer(),
    )
