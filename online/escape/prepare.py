"""`dydx-relay escape prepare`: one ``escape-request`` with everything the cold machine cannot know.

The proof words (the explorer's page or a saved file) are verified here with the shared verifier before
anything else, then checked against the chain: the contract is frozen, the shared state is word for word
the new state of the last ``updateState`` call, the STARK key is registered to the cold address. From what
the chain says (fact already registered? escape already used? a pending withdrawal? a deposit never
processed?) the transactions still needed are built, with consecutive nonces, EIP-1559 fees and gas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from dydx_airgap.online.escape.chain import (
    deposit_balance,
    deposit_step,
    deposited_positions,
    escape_already_used,
    fact_registered,
    is_frozen,
    last_state_update,
    withdrawal_balance,
)
from dydx_airgap.online.escape.explorer import fetch_escape_page
from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.onchain.chain_reads import registered_eth_key, require_contract
from dydx_airgap.online.onchain.fees import FeeSuggestion, suggest_fees
from dydx_airgap.online.onchain.revert import explain, reason_of
from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError, parse_rpc_url
from dydx_airgap.online.onchain.tx_journal import TxJournal, step_request_id
from dydx_airgap.online.onchain.units import format_eth
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.shared.dydx_v3.calldata import format_usdc
from dydx_airgap.shared.dydx_v3.escape.calldata import (
    DepositCancelCall,
    EscapeCall,
    VerifyEscapeCall,
    WithdrawCall,
)
from dydx_airgap.shared.dydx_v3.escape.sources import EscapeData, escape_data_from_text
from dydx_airgap.shared.dydx_v3.escape.summary import escape_rows, verify_escape_data
from dydx_airgap.shared.dydx_v3.escape.verifier import VerifiedEscape
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import FormatError, InputError, PolicyError
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.timestamps import now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload

GAS_MARGIN_PERCENT = 25
#: Gas for a call that cannot be estimated before the transactions ahead of it are mined (escape reverts
#: ESCAPE_LACKS_PROOF until verifyEscape is mined); generous next to the ~60-100 k they use.
FALLBACK_GAS = {"escape": 200_000, "withdraw": 200_000, "withdraw-to": 200_000}
MIN_VALIDITY = timedelta(minutes=1)
MAX_VALIDITY = timedelta(hours=24)


def _quiet(line: str) -> None:
    del line


@dataclass
class EscapePrepareOptions:
    network: Network
    address: str
    rpc_url: str
    out: Path
    escape_file: Path | None = None
    explorer_url: str | None = None
    position_id: int | None = None
    stark_key: int | None = None
    state_update_tx: str | None = None
    withdraw_to: str | None = None
    state_dir: Path | None = None
    priority_fee_wei: int | None = None
    valid_for: timedelta = timedelta(hours=1)
    report: Callable[[str], None] = _quiet
    rpc_transport: httpx.BaseTransport | None = None
    explorer_transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass
class PreparedStep:
    action: str
    to: str
    function: str
    nonce: int
    gas_limit: int
    gas_note: str


@dataclass
class PreparedEscape:
    payload: Payload
    out: Path
    network: Network
    address: str
    recipient: str
    verified: VerifiedEscape
    proof_rows: list[tuple[str, str]]
    steps: list[PreparedStep]
    fees: FeeSuggestion
    max_cost_wei: int
    eth_balance: int
    state_update_tx: str
    source: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.payload.id,
            "sha256": self.payload.digest.hex(),
            "fingerprint": self.payload.fingerprint,
            "file": str(self.out),
            "network_id": self.network.chain_id,
            "address": self.address,
            "recipient": self.recipient,
            "position_id": str(self.verified.position_id),
            "stark_key": f"0x{self.verified.stark_key:064x}",
            "amount": str(self.verified.amount),
            "amount_usdc": format_usdc(self.verified.amount),
            "fact": "0x" + self.verified.fact.hex(),
            "state_update_tx": self.state_update_tx,
            "source": self.source,
            "steps": [
                {
                    "action": s.action,
                    "to": s.to,
                    "nonce": s.nonce,
                    "gas_limit": s.gas_limit,
                    "gas_note": s.gas_note,
                }
                for s in self.steps
            ],
            "max_cost_wei": str(self.max_cost_wei),
            "eth_balance_wei": str(self.eth_balance),
            "notes": list(self.notes),
        }


def _words_hex(words: tuple[int, ...]) -> list[str]:
    return [hex(word) for word in words]


def prepare_escape(options: EscapePrepareOptions) -> PreparedEscape:
    net = options.network
    if net.escape_verifier is None:
        raise InputError(
            f"{net.label} has no escape verifier on record: the escape hatch is for mainnet "
            "(and the rehearsal)"
        )
    if (options.escape_file is None) == (options.explorer_url is None):
        raise InputError("give the escape data with exactly one of --escape-file FILE or --explorer URL")
    if not MIN_VALIDITY <= options.valid_for <= MAX_VALIDITY:
        raise InputError("the request's validity must be between 1 minute and 24 hours")
    if options.out.exists():
        raise InputError(f"--out {options.out} exists; choose a new file name")
    address = to_checksum_address(parse_address(options.address))
    recipient = (
        address if options.withdraw_to is None else to_checksum_address(parse_address(options.withdraw_to))
    )

    data: EscapeData
    source: str
    if options.escape_file is not None:
        raw = read_untrusted_file(options.escape_file, 4 * 1024 * 1024)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{options.escape_file} is not UTF-8 text") from None
        data = escape_data_from_text(text, str(options.escape_file))
        source = f"file {options.escape_file.name}"
    verified: VerifiedEscape | None = None

    rpc_target = parse_rpc_url(options.rpc_url)
    with (
        locked_state_dir(options.state_dir) as state_dir,
        TxJournal.open(state_dir) as journal,
        EthRpc(
            rpc_target,
            transport=options.rpc_transport,
            retry=options.retry,
            sleep=options.sleep,
            report=options.report,
        ) as rpc,
    ):
        served = rpc.chain_id()
        if served != net.chain_id:
            raise PolicyError(f"the node at {rpc_target.origin} serves chain id {served}, not {net.label}")
        require_contract(rpc, net.stark_perpetual, "StarkPerpetual")
        require_contract(rpc, net.escape_verifier, "escape verifier")
        if not is_frozen(rpc, net):
            raise PolicyError(
                f"the StarkPerpetual at {net.stark_perpetual} is not frozen (isFrozen() is false): "
                "the escape "
                "hatch opens only once it is frozen; nothing was prepared"
            )
        if options.explorer_url is not None:
            position_id = options.position_id
            if position_id is None:
                position_id = _position_from_deposits(rpc, net, address, options.stark_key, options.report)
            data, url = fetch_escape_page(
                options.explorer_url, position_id, address, transport=options.explorer_transport
            )
            source = f"explorer {url}"
        verified = verify_escape_data(data)
        _check_identity(options, data, net)

        update = last_state_update(rpc, net, options.state_update_tx)
        _check_state(update.new_state, data.shared_state, update.tx_hash)

        stark_key, position_id = verified.stark_key, verified.position_id
        registered = registered_eth_key(rpc, net, stark_key)
        if registered is None:
            raise PolicyError(
                f"STARK key 0x{stark_key:064x} is not registered on chain "
                "(getEthKey reverts USER_UNREGISTERED): "
                "withdraw would revert, so nothing was prepared. Registration needs dYdX's user-admin "
                "signature (README: 'Getting funds out of dYdX v3')"
            )
        if not same_address(registered, address):
            raise PolicyError(
                f"STARK key 0x{stark_key:064x} is registered to {registered}, not {address}: prepare with "
                f"--address {registered} (its key signs and receives the USDC)"
            )
        if options.withdraw_to is not None and same_address(recipient, registered):
            raise InputError(
                "--withdraw-to is the registered address itself; leave it out (withdraw pays it)"
            )

        fact_done = fact_registered(rpc, net.escape_verifier, verified.fact)
        escape_call = EscapeCall(stark_key, position_id, verified.amount)
        used = escape_already_used(rpc, net, escape_call, address)
        pending = withdrawal_balance(rpc, net, stark_key)
        deposit = deposit_balance(rpc, net, stark_key, position_id)
        notes: list[str] = []

        calls: list[tuple[str, str, str, bytes]] = []
        if not used:
            if fact_done:
                notes.append("the escape fact is already registered: verifyEscape is not needed again")
            else:
                calls.append(
                    (
                        "verify-escape",
                        net.escape_verifier,
                        "verifyEscape(uint256[] merkleProof, uint256 nAssets, uint256[] sharedState)",
                        VerifyEscapeCall(data.merkle_proof, data.n_assets, data.shared_state).encode(),
                    )
                )
            calls.append(
                (
                    "escape",
                    net.stark_perpetual,
                    "escape(uint256 starkKey, uint256 vaultId, uint256 quantizedAmount)",
                    escape_call.encode(),
                )
            )
        else:
            notes.append(f"the escape of position {position_id} was already used on chain")
        if not used or pending > 0:
            withdraw = WithdrawCall(stark_key, net.collateral_asset_id, options.withdraw_to and recipient)
            calls.append(
                (
                    "withdraw" if options.withdraw_to is None else "withdraw-to",
                    net.stark_perpetual,
                    "withdraw(uint256 starkKey, uint256 assetType)"
                    if options.withdraw_to is None
                    else "withdrawTo(uint256 starkKey, uint256 assetType, address recipient)",
                    withdraw.encode(),
                )
            )
        if deposit > 0:
            step, sentence = deposit_step(rpc, net, stark_key, position_id, address)
            notes.append(
                f"a deposit of {format_usdc(deposit)} USDC to position {position_id} is pending: {sentence}"
            )
            if step is not None:
                reclaim = step == "deposit-reclaim"
                calls.append(
                    (
                        step,
                        net.stark_perpetual,
                        f"{'depositReclaim' if reclaim else 'depositCancel'}"
                        "(uint256 starkKey, uint256 assetId, uint256 vaultId)",
                        DepositCancelCall(
                            stark_key, net.collateral_asset_id, position_id, reclaim=reclaim
                        ).encode(),
                    )
                )
        if not calls and deposit > 0:
            raise PolicyError(
                f"position {position_id} was already escaped and withdrawn; its pending deposit of "
                f"{format_usdc(deposit)} USDC was cancelled and waits out the contract's "
                "DEPOSIT_CANCEL_DELAY: prepare again once it has passed"
            )
        if not calls:
            raise PolicyError(
                f"position {position_id} was already escaped and its USDC withdrawn (pending balance 0); "
                "nothing is left to do"
            )

        latest = rpc.transaction_count(address, "latest")
        first = max(
            [
                rpc.transaction_count(address, "pending"),
                *(r.nonce + 1 for r in journal.outstanding(net.chain_id, address, latest, now_utc())),
            ]
        )
        fees = suggest_fees(rpc, options.priority_fee_wei)
        steps: list[PreparedStep] = []
        body_steps: list[dict[str, Any]] = []
        for offset, (action, to, function, calldata) in enumerate(calls):
            estimate, gas_limit, gas_note = _gas(
                rpc, address, action, to, calldata, first_in_line=offset == 0
            )
            nonce = first + offset
            steps.append(PreparedStep(action, to, function, nonce, gas_limit, gas_note))
            body_steps.append(
                {
                    "action": action,
                    "transaction": {
                        "chain_id": net.chain_id,
                        "nonce": nonce,
                        "max_priority_fee_per_gas": fees.max_priority_fee_per_gas,
                        "max_fee_per_gas": fees.max_fee_per_gas,
                        "gas_limit": gas_limit,
                        "to": to_checksum_address(parse_address(to)),
                        "value": 0,
                        "data": "0x" + calldata.hex(),
                    },
                    "gas_estimate": estimate,
                    "gas_note": gas_note,
                }
            )
        max_cost = sum(step.gas_limit for step in steps) * fees.max_fee_per_gas
        eth = rpc.balance(address)
        if eth < max_cost:
            raise PolicyError(
                f"{address} holds {format_eth(eth)}, but these {len(steps)} transactions may cost up to "
                f"{format_eth(max_cost)}: fund it first; nothing was prepared"
            )
        body = {
            "escape": {
                "stark_key": f"0x{stark_key:064x}",
                "position_id": str(position_id),
                "n_assets": data.n_assets,
                "merkle_proof": _words_hex(data.merkle_proof),
                "shared_state": _words_hex(data.shared_state),
            },
            "source": source[:300],
            "recipient": recipient,
            "facts": {
                "rpc": rpc_target.origin,
                "block_number": rpc.block_number(),
                "frozen": True,
                "registered_eth_key": registered,
                "state_update_tx": update.tx_hash,
                "state_update_block": update.block_number,
                "escape_used": used,
                "fact_registered": fact_done,
                "pending_withdrawal": str(pending),
                "pending_deposit": str(deposit),
                "base_fee_per_gas": fees.base_fee_per_gas,
                "eth_balance": str(eth),
                "notes": [note[:400] for note in notes],
            },
            "steps": body_steps,
        }
        payload = new_payload(
            "escape-request", net.chain_id, address, body, expires_in=options.valid_for, now=now_utc()
        )
        journal.add_step_requests(
            payload,
            [(s.action, s.nonce, s.gas_limit * fees.max_fee_per_gas) for s in steps],
            rpc_origin=rpc_target.origin,
        )
        try:
            atomic_write_bytes(options.out, payload.to_bytes())
        except BaseException:
            for index in range(len(steps)):
                journal.forget_request(step_request_id(payload.id, index))
            raise
        return PreparedEscape(
            payload=payload,
            out=options.out,
            network=net,
            address=address,
            recipient=recipient,
            verified=verified,
            proof_rows=escape_rows(verified, data.shared_state),
            steps=steps,
            fees=fees,
            max_cost_wei=max_cost,
            eth_balance=eth,
            state_update_tx=update.tx_hash,
            source=source,
            notes=notes,
        )


def _position_from_deposits(
    rpc: EthRpc, net: Network, address: str, stark_key: int | None, report: Callable[[str], None]
) -> int:
    """The position this address funded from L1 (its LogDeposit events), when --position is not given."""
    found = [
        (key, position)
        for key, position in deposited_positions(rpc, net, address)
        if stark_key is None or key == stark_key
    ]
    if not found:
        raise InputError(
            f"no LogDeposit by {address} on {net.name}'s StarkPerpetual: give --position ID (the explorer's "
            "user page shows it)"
        )
    if len({position for _, position in found}) > 1:
        listed = ", ".join(str(position) for _, position in found)
        raise InputError(f"{address} deposited to several positions ({listed}): choose one with --position")
    report(f"position {found[0][1]}: found in {address}'s LogDeposit events")
    return found[0][1]


def _check_identity(options: EscapePrepareOptions, data: EscapeData, net: Network) -> None:
    if options.position_id is not None and options.position_id != data.position_id:
        raise PolicyError(
            f"the escape data is for position {data.position_id}, not --position {options.position_id}"
        )
    if options.stark_key is not None and options.stark_key != data.stark_key:
        raise PolicyError(
            f"the escape data is for STARK key 0x{data.stark_key:064x}, "
            f"not this account's 0x{options.stark_key:064x}"
        )
    if data.escape_verifier is not None and not same_address(data.escape_verifier, net.escape_verifier or ""):
        raise PolicyError(
            f"the escape data names the verifier {data.escape_verifier}, "
            f"not {net.name}'s {net.escape_verifier}"
        )


def _check_state(on_chain: tuple[int, ...], given: tuple[int, ...], tx_hash: str) -> None:
    if on_chain == given:
        return
    if len(on_chain) != len(given):
        detail = f"it has {len(given)} words, the last state update {len(on_chain)}"
    else:
        index = next(i for i, (a, b) in enumerate(zip(on_chain, given, strict=True)) if a != b)
        detail = f"word {index} differs"
    raise PolicyError(
        f"the escape data's shared state is not the new state of the last updateState ({tx_hash}): {detail}; "
        "the proof would be refused by escape (ESCAPE_LACKS_PROOF); nothing was prepared"
    )


def _gas(
    rpc: EthRpc, sender: str, action: str, to: str, data: bytes, *, first_in_line: bool
) -> tuple[int | None, int, str]:
    try:
        estimate = rpc.estimate_gas(sender, to, data)
    except RpcCallError as exc:
        if not exc.reverted:
            raise
        if action in FALLBACK_GAS and not first_in_line:
            limit = FALLBACK_GAS[action]
            return (
                None,
                limit,
                f"fixed {limit}: it cannot be estimated before the transactions ahead of it are mined",
            )
        raise PolicyError(
            f"{action} would revert now: {explain(reason_of(exc))}; nothing was prepared"
        ) from None
    limit = -(-estimate * (100 + GAS_MARGIN_PERCENT) // 100)
    if action in FALLBACK_GAS and not first_in_line and limit < FALLBACK_GAS[action]:
        # Estimated before the escape credits anything, withdraw moves 0 USDC and skips the storage writes
        # a real payout makes (the recipient's token balance, the pending balance): keep the fixed floor.
        return (
            estimate,
            FALLBACK_GAS[action],
            (
                f"fixed {FALLBACK_GAS[action]}: the node's {estimate} was measured before the escape credits "
                "anything"
            ),
        )
    return estimate, limit, f"node estimate {estimate} + {GAS_MARGIN_PERCENT} %"
