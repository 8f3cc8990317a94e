"""`sign escape`: verify a v3 escape proof on the cold machine and sign the transactions that use it.

The relay's ``escape-request`` is a set of claims. The proof is verified here with the same verifier the
contract runs (every check in its order, its revert text as the error); its STARK key must be this
Ethereum key's under one of the six wallet variants (the review says which); the withdrawal amount is
computed here with the contract's formula. Every transaction's calldata is rebuilt from the verified proof
and compared byte for byte with the request, so the ~9.6 kB of ``verifyEscape`` calldata is never shown as
hex to approve: the review shows the position, its assets and the amount instead. Fees are capped.
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.offline.signing.transactions import TxPolicy, eth_text, gwei_text
from dydx_airgap.shared.dydx_v3.calldata import format_usdc
from dydx_airgap.shared.dydx_v3.escape.calldata import (
    DepositCancelCall,
    EscapeCall,
    EscapeHatchCall,
    VerifyEscapeCall,
    WithdrawCall,
)
from dydx_airgap.shared.dydx_v3.escape.sources import escape_data_from_json
from dydx_airgap.shared.dydx_v3.escape.summary import escape_rows, verify_escape_data
from dydx_airgap.shared.dydx_v3.escape.verifier import VerifiedEscape
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.errors import FormatError, PolicyError
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction, SignedEip1559Transaction
from dydx_airgap.shared.timestamps import now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload

#: The order the transactions must be mined in; the deposit steps stand apart and come last.
STEP_ORDER = ("verify-escape", "escape", "withdraw", "withdraw-to", "deposit-cancel", "deposit-reclaim")


@dataclass(frozen=True)
class ReviewedEscape:
    verified: VerifiedEscape
    variant: StarkKeyVariant
    transactions: list[tuple[str, Eip1559Transaction]]
    rows: list[tuple[str, str]]
    notes: list[str]
    warnings: list[str]
    max_cost_wei: int


def _refuse(field: str, why: str) -> PolicyError:
    return PolicyError(f"refused: {field} {why}; nothing was signed")


def matching_variant(key: ColdKey, chain_id: int, stark_key: int) -> StarkKeyVariant | None:
    """The wallet variant under which this Ethereum key derives ``stark_key``, if any."""
    for variant in StarkKeyVariant:
        if derive_account(key, chain_id, variant).stark.public_key == stark_key:
            return variant
    return None


def review_escape_request(
    payload: Payload, network: Network, key: ColdKey, policy: TxPolicy, allow_withdraw_to: bool
) -> ReviewedEscape:
    if payload.kind != "escape-request":
        raise FormatError(f"expected an escape-request payload, got {payload.kind}")
    body = payload.body
    screen(dict(body), where="the escape request", include_keys=False)
    if payload.network_id != network.chain_id:
        raise _refuse("network", f"is {payload.network_id} but this key signs for {network.label}")
    if network.escape_verifier is None:
        raise _refuse("network", f"{network.label} has no escape verifier on record")
    if payload.address is None or not same_address(payload.address, key.address):
        raise _refuse("address", f"{payload.address} is not this key's {key.address}")
    if payload.is_expired():
        raise _refuse("request", f"expired at {payload.expires}; prepare a fresh one")

    escape = body["escape"]
    data = escape_data_from_json(
        {
            name: escape[name]
            for name in ("stark_key", "position_id", "n_assets", "merkle_proof", "shared_state")
        }
    )
    verified = verify_escape_data(data)  # EscapeProofError: the contract's own reason
    variant = matching_variant(key, network.chain_id, verified.stark_key)
    if variant is None:
        raise _refuse(
            "STARK key",
            f"0x{verified.stark_key:064x} of the proof is not derived from {key.address} under any of the "
            f"{len(StarkKeyVariant)} wallet variants: is the position another account's (try --account)?",
        )

    registered = body["facts"]["registered_eth_key"]
    if registered is None or not same_address(registered, key.address):
        raise _refuse(
            "registration", f"the request says the STARK key is registered to {registered}, not this key"
        )
    recipient = to_checksum_address(parse_address(body["recipient"]))
    other_recipient = not same_address(recipient, key.address)
    warnings: list[str] = []
    if other_recipient:
        if not allow_withdraw_to:
            raise _refuse(
                "recipient",
                f"{recipient} is not this key's registered address {key.address}: withdrawTo another address "
                "needs --allow-withdraw-to",
            )
        warnings.append(f"the USDC goes to {recipient}, NOT to the registered address {key.address}")

    expected: dict[str, tuple[str, EscapeHatchCall]] = {
        "verify-escape": (
            network.escape_verifier,
            VerifyEscapeCall(data.merkle_proof, data.n_assets, data.shared_state),
        ),
        "escape": (
            network.stark_perpetual,
            EscapeCall(verified.stark_key, verified.position_id, verified.amount),
        ),
        "withdraw": (network.stark_perpetual, WithdrawCall(verified.stark_key, network.collateral_asset_id)),
        "withdraw-to": (
            network.stark_perpetual,
            WithdrawCall(verified.stark_key, network.collateral_asset_id, recipient),
        ),
        "deposit-cancel": (
            network.stark_perpetual,
            DepositCancelCall(verified.stark_key, network.collateral_asset_id, verified.position_id),
        ),
        "deposit-reclaim": (
            network.stark_perpetual,
            DepositCancelCall(
                verified.stark_key, network.collateral_asset_id, verified.position_id, reclaim=True
            ),
        ),
    }
    described = {
        "verify-escape": "verifyEscape(merkleProof, nAssets, sharedState): registers the proof's fact",
        "escape": f"escape(starkKey, positionId {verified.position_id}, amount {verified.amount})",
        "withdraw": f"withdraw(starkKey, USDC): pays the registered address {key.address}",
        "withdraw-to": f"withdrawTo(starkKey, USDC, {recipient})",
        "deposit-cancel": f"depositCancel(starkKey, USDC, position {verified.position_id})",
        "deposit-reclaim": f"depositReclaim(starkKey, USDC, position {verified.position_id}): to the sender",
    }
    steps = body["steps"]
    actions = [step["action"] for step in steps]
    if actions != sorted(actions, key=STEP_ORDER.index):
        raise _refuse("transactions", f"are out of order ({', '.join(actions)})")
    if ("withdraw" in actions and other_recipient) or ("withdraw-to" in actions and not other_recipient):
        raise _refuse("recipient", "does not match the withdraw transaction the request carries")

    rows: list[tuple[str, str]] = [
        ("network", network.label),
        ("from", f"{key.address}  (registered to the STARK key on chain)"),
        ("key variant", f"{variant.value} ({variant.description}): the proof's STARK key is this key's"),
        *escape_rows(verified, data.shared_state),
        ("state update", f"{body['facts']['state_update_tx']} (the relay matched the state against it)"),
        (
            "recipient",
            recipient
            + (
                "  <-- NOT the registered address (withdrawTo)"
                if other_recipient
                else "  (the registered address)"
            ),
        ),
    ]
    transactions: list[tuple[str, Eip1559Transaction]] = []
    max_cost = 0
    for step in steps:
        action, tx = step["action"], step["transaction"]
        contract, call = expected[action]
        if tx["chain_id"] != network.chain_id:
            raise _refuse(
                f"{action} chain id", f"{tx['chain_id']} is not {network.label}'s {network.chain_id}"
            )
        if not same_address(tx["to"], contract):
            raise _refuse(f"{action} contract", f"{tx['to']} is not {network.name}'s {contract}")
        data_bytes = bytes.fromhex(tx["data"][2:])
        if data_bytes != call.encode():
            raise _refuse(
                f"{action} calldata",
                "differs from the one rebuilt here from the verified proof (a different proof, amount, "
                "position or recipient)",
            )
        max_fee, tip, gas = tx["max_fee_per_gas"], tx["max_priority_fee_per_gas"], tx["gas_limit"]
        if tip > max_fee:
            raise _refuse(f"{action} fees", "have a priority fee above the max fee")
        if max_fee > policy.max_fee_per_gas_wei:
            raise _refuse(
                f"{action} max fee per gas",
                f"{gwei_text(max_fee)} is above your cap of {gwei_text(policy.max_fee_per_gas_wei)}",
            )
        max_cost += max_fee * gas
        transactions.append(
            (
                action,
                Eip1559Transaction(
                    chain_id=tx["chain_id"],
                    nonce=tx["nonce"],
                    max_priority_fee_per_gas=tip,
                    max_fee_per_gas=max_fee,
                    gas_limit=gas,
                    to=parse_address(tx["to"]),
                    value=0,
                    data=data_bytes,
                ),
            )
        )
        estimate = "" if step["gas_estimate"] is None else f" (estimate {step['gas_estimate']})"
        rows.append(
            (
                f"tx nonce {tx['nonce']}",
                f"{action}: {described[action]} on {to_checksum_address(parse_address(contract))}; "
                f"gas limit {gas}{estimate}, max fee {gwei_text(max_fee)}, priority {gwei_text(tip)}",
            )
        )
    if max_cost > policy.max_cost_wei:
        raise _refuse(
            "maximum cost", f"{eth_text(max_cost)} is above your cap of {eth_text(policy.max_cost_wei)}"
        )
    rows.append(("maximum total cost", f"{eth_text(max_cost)} for {len(transactions)} transaction(s)"))
    notes = list(body["facts"]["notes"])
    if "escape" not in actions and {"withdraw", "withdraw-to"} & set(actions):
        pending = format_usdc(int(body["facts"]["pending_withdrawal"]))
        notes.append(f"the escape was already used; the pending {pending} USDC is withdrawn")
    if network.rehearsal:
        notes.append("LOCAL REHEARSAL network: nothing here touches a real chain.")
    return ReviewedEscape(verified, variant, transactions, rows, notes, warnings, max_cost)


def signed_escape_payload(
    key: ColdKey, request: Payload, signed: list[tuple[str, SignedEip1559Transaction]]
) -> Payload:
    return new_payload(
        "signed-escape",
        request.network_id,
        request.address,
        {
            "request_sha256": request.digest.hex(),
            "transactions": [
                {"action": action, "raw": "0x" + tx.raw().hex(), "tx_hash": "0x" + tx.tx_hash.hex()}
                for action, tx in signed
            ],
        },
        answers=request.id,
        now=now_utc(),
        signer=key.origin_signer(),
    )
