"""`dydx-relay escape broadcast`: send the cold key's escape transactions in order, each once.

verifyEscape first; ``escape`` only after ``isValid(fact)`` is true on chain and an ``eth_call`` of it
succeeds; then ``withdraw`` (or ``withdrawTo``), reporting the USDC that arrived from its
``LogWithdrawalPerformed``. Each transaction is one journal request (``<request id>.<index>``) broadcast
through the same send-once path as every other on-chain transaction: a rerun looks hashes up, never
resends blindly, and continues where the last run stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dydx_airgap.online.escape.chain import call_reverts, fact_registered, withdrawal_balance
from dydx_airgap.online.firm_addresses import require_firm_address
from dydx_airgap.online.onchain.broadcast import BroadcastOptions, BroadcastResult, _Broadcast
from dydx_airgap.online.onchain.rpc import EthRpc, Receipt, parse_rpc_url
from dydx_airgap.online.onchain.tx_journal import LIVE_STATES, StoredRequest, TxJournal, step_request_id
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.shared.dydx_v3.calldata import format_usdc
from dydx_airgap.shared.dydx_v3.escape.calldata import EVENT_WITHDRAWAL_PERFORMED
from dydx_airgap.shared.dydx_v3.escape.verifier import escape_fact
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.errors import AirgapError, FormatError, InputError, PolicyError, VerificationError
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.ethereum.transaction import SignedEip1559Transaction, decode_signed_transaction
from dydx_airgap.shared.transport.payload import Payload, decode_payload


@dataclass
class EscapeBroadcastResult:
    request_id: str
    results: list[BroadcastResult]
    usdc_received: int | None
    recipient: str | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "transactions": [result.to_json() for result in self.results],
            "usdc_received": None if self.usdc_received is None else format_usdc(self.usdc_received),
            "recipient": self.recipient,
            "notes": list(self.notes),
        }


class _EscapeStep(_Broadcast):
    """One escape-hatch transaction: the shared send-once path, with the escape hatch's read-back."""

    def _confirm(self, receipt: Receipt) -> list[tuple[str, str]]:
        body = self.request.payload.body
        stark_key = int(body["escape"]["stark_key"], 16)
        checks: list[tuple[str, str]] = []
        try:
            if self.request.action == "verify-escape":
                fact = _request_fact(self.request.payload)
                assert self.network.escape_verifier is not None
                registered = fact_registered(self.rpc, self.network.escape_verifier, fact)
                checks.append(
                    ("isValid(fact)", "true" if registered else "FALSE: the fact is not registered")
                )
            elif self.request.action == "escape":
                balance = withdrawal_balance(self.rpc, self.network, stark_key)
                checks.append(("pending withdrawal now", f"{format_usdc(balance)} USDC"))
            elif self.request.action in ("withdraw", "withdraw-to"):
                amount, recipient = withdrawal_performed(receipt, self.network.stark_perpetual)
                checks.append(("LogWithdrawalPerformed", f"{format_usdc(amount)} USDC to {recipient}"))
        except AirgapError as exc:
            self.notes.append(f"the effect could not be read back: {exc.message}")
        return checks


def _request_fact(payload: Payload) -> bytes:
    from dydx_airgap.shared.dydx_v3.escape.sources import escape_data_from_json
    from dydx_airgap.shared.dydx_v3.escape.summary import verify_escape_data

    escape = payload.body["escape"]
    data = escape_data_from_json(
        {
            "stark_key": escape["stark_key"],
            "position_id": escape["position_id"],
            "n_assets": escape["n_assets"],
            "merkle_proof": escape["merkle_proof"],
            "shared_state": escape["shared_state"],
        }
    )
    result = verify_escape_data(data)
    return escape_fact(result.stark_key, result.amount, result.shared_state_hash, result.position_id)


def withdrawal_performed(receipt: Receipt, perpetual: str) -> tuple[int, str]:
    """(quantized amount, recipient) of the receipt's LogWithdrawalPerformed from ``perpetual``."""
    for log in receipt.logs:
        try:
            address = parse_address(str(log.get("address")))
            topics = log.get("topics") or []
            data = bytes.fromhex(str(log.get("data", "0x"))[2:])
        except (AirgapError, ValueError):
            continue
        if address != parse_address(perpetual) or not topics:
            continue
        if str(topics[0]).lower() != "0x" + EVENT_WITHDRAWAL_PERFORMED.hex() or len(data) != 5 * 32:
            continue
        quantized = int.from_bytes(data[96:128], "big")
        return quantized, to_checksum_address(data[128 + 12 : 160])
    raise FormatError("the withdraw receipt has no LogWithdrawalPerformed of the StarkPerpetual")


def _check_step(item: dict[str, Any], request: StoredRequest, index: int) -> SignedEip1559Transaction:
    where = f"signed escape transaction {index} ({request.action})"
    want = request.payload.body["steps"][index]
    if item["action"] != want["action"]:
        raise VerificationError(
            f"{where} says {item['action']}, the request asked {want['action']}; nothing was sent"
        )
    try:
        signed = decode_signed_transaction(bytes.fromhex(item["raw"][2:]))
    except AirgapError as exc:
        raise type(exc)(
            f"{where}: the raw transaction is unusable: {exc.message}; nothing was sent"
        ) from None
    if "0x" + signed.tx_hash.hex() != item["tx_hash"]:
        raise VerificationError(f"{where}: tx_hash is not the hash of the raw transaction; nothing was sent")
    tx, asked = signed.transaction, want["transaction"]
    differences = [
        name
        for name in ("chain_id", "nonce", "max_priority_fee_per_gas", "max_fee_per_gas", "gas_limit", "value")
        if getattr(tx, name) != asked[name]
    ]
    if tx.to != parse_address(asked["to"]):
        differences.append("to")
    if tx.data != bytes.fromhex(asked["data"][2:]):
        differences.append("data")
    if tx.access_list:
        differences.append("access list")
    if differences:
        raise VerificationError(
            f"{where} is not the transaction the request asked for ({', '.join(differences)} differ); "
            "nothing was sent"
        )
    if not same_address(signed.sender_address, request.address):
        raise VerificationError(
            f"{where} is signed by {signed.sender_address}, not {request.address}; nothing was sent"
        )
    return signed


def broadcast_escape(data: bytes, options: BroadcastOptions) -> EscapeBroadcastResult:
    payload = decode_payload(data)
    if payload.kind != "signed-escape":
        raise InputError(
            f"a {payload.kind} payload is not a signed escape: 'escape broadcast' takes the file written by "
            "'dydx-offline sign escape'"
        )
    if payload.answers is None:
        raise FormatError("the signed-escape payload does not name the request it answers")
    target = parse_rpc_url(options.rpc_url)
    with (
        locked_state_dir(options.state_dir) as state_dir,
        TxJournal.open(state_dir) as journal,
        EthRpc(
            target,
            transport=options.transport,
            retry=options.retry,
            sleep=options.sleep,
            report=options.report,
        ) as rpc,
    ):
        note = require_firm_address(payload.address, state_dir, options.expect_addresses)
        if note is not None:
            options.report(note)
        items = payload.body["transactions"]
        requests = [journal.request(step_request_id(payload.answers, index)) for index in range(len(items))]
        if any(request is None for request in requests):
            raise InputError(
                f"the signed escape answers request {payload.answers}, which is not in {journal.path}: "
                "broadcast with the relay state (--state) that prepared it; nothing was sent"
            )
        stored = [request for request in requests if request is not None]
        first = stored[0]
        if first.payload.digest.hex() != payload.body["request_sha256"]:
            raise VerificationError(
                "the signed escape was signed from a request other than the one this relay prepared (SHA-256 "
                "differs): the request was altered; nothing was sent"
            )
        if len(items) != len(first.payload.body["steps"]):
            raise VerificationError(
                f"the signed escape has {len(items)} transactions, the request asked for "
                f"{len(first.payload.body['steps'])}; nothing was sent"
            )
        if payload.address is None or not same_address(payload.address, first.address):
            raise VerificationError(
                f"the signed escape names {payload.address}, not {first.address}; nothing was sent"
            )
        signed = [
            _check_step(item, request, index)
            for index, (item, request) in enumerate(zip(items, stored, strict=True))
        ]

        network = NETWORKS[first.network_id]
        results: list[BroadcastResult] = []
        received: tuple[int, str] | None = None
        for request, transaction in zip(stored, signed, strict=True):
            if request.action == "escape":
                _gate_escape(rpc, journal, request, transaction)
            result = _EscapeStep(options, journal, rpc, request, transaction).run()
            results.append(result)
            if request.action in ("withdraw", "withdraw-to"):
                receipt = rpc.receipt(transaction.tx_hash)
                if receipt is not None:
                    received = withdrawal_performed(receipt, network.stark_perpetual)
        return EscapeBroadcastResult(
            request_id=payload.answers,
            results=results,
            usdc_received=None if received is None else received[0],
            recipient=None if received is None else received[1],
        )


def _gate_escape(
    rpc: EthRpc, journal: TxJournal, request: StoredRequest, transaction: SignedEip1559Transaction
) -> None:
    """escape is sent only once the fact is registered on chain and the call succeeds as it stands; once
    sent (the journal has it), a rerun follows it up instead."""
    if any(b.state in LIVE_STATES for b in journal.broadcasts_of(request.id)):
        return
    network = NETWORKS[request.network_id]
    assert network.escape_verifier is not None
    fact = _request_fact(request.payload)
    if not fact_registered(rpc, network.escape_verifier, fact):
        raise PolicyError(
            "the escape fact is not registered on chain (isValid(fact) is false): verifyEscape must be mined "
            "first; escape was not sent"
        )
    reason = call_reverts(rpc, network.stark_perpetual, transaction.transaction.data, request.address)
    if reason is not None:
        raise PolicyError(f"escape would revert now ({reason}); it was not sent")
