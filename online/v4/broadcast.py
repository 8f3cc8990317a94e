"""``dydx-relay v4 broadcast SIGNED``: check a ``v4-signed-tx`` against the request it answers, send it once.

Before a byte leaves:

* the signed payload must answer a ``v4-tx-request`` this relay journaled, with that request's SHA-256 — a
  signature over another or an altered request is refused;
* the TxRaw's body and auth_info bytes must be exactly those the request's fields make, and the signature
  must verify over the SignDoc the relay rebuilds from the *request* (its chain id and account number), not
  from what the signed file claims;
* the node must serve that chain, the chain must not have reached the timeout height, and the account's
  sequence must still be the one signed for. If it moved (a trading key's stateful order, another relay),
  the transaction can never be included: the relay refuses and says a new request must be signed. It never
  signs anything itself.

Idempotency: the broadcast is journaled by transaction hash as ``sending`` before the send; a hash already
included (or failed, or expired) is never sent again, and one that may be in flight is followed by status
queries first (``delivery.resume``). What the node was asked and answered goes into the journal's events,
which the evidence receipts copy.

After an add-trading-key transaction is included, the new authenticator's id is read back
(``trading_key.read_back``) and written, with what the trading bot signs with, to ``--trading-key-out``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydx_airgap.online.relay.target import NodeTarget, parse_node_url
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.online.v4.codes import RESIGN
from dydx_airgap.online.v4.delivery import (
    Delivery,
    DeliveryError,
    Expired,
    Refused,
    Step,
    StillPending,
    TransactionFailed,
    deliver,
    resume,
)
from dydx_airgap.online.v4.journal import FINAL_STATES, StoredRequest, V4Journal
from dydx_airgap.online.v4.node import TxResult, V4Node
from dydx_airgap.online.v4.trading_key import TradingKey, read_back
from dydx_airgap.shared.dydx_v4.networks import V4Network, network_by_chain_id
from dydx_airgap.shared.dydx_v4.request import unsigned_from_fields
from dydx_airgap.shared.dydx_v4.signature import verify_direct
from dydx_airgap.shared.dydx_v4.tx import parse_tx, tx_hash
from dydx_airgap.shared.errors import AirgapError, InputError, PolicyError, RemoteError, VerificationError
from dydx_airgap.shared.fsutil import atomic_write_bytes
from dydx_airgap.shared.transport.payload import Payload, decode_payload

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class BroadcastOptions:
    node_url: str
    state_dir: Path | None = None
    wait_seconds: float = 120.0
    poll_interval: float = 1.0
    timeout: float = 20.0
    trading_key_out: Path | None = None
    report: Reporter = lambda line: None
    node_factory: Callable[[NodeTarget, V4Network], V4Node] | None = None


@dataclass
class V4BroadcastResult:
    tx_hash: str
    request_id: str
    kind: str
    address: str
    sequence: int
    sent: bool
    height: int
    gas_used: int
    sends: int
    trading_key: TradingKey | None = None
    trading_key_file: Path | None = None
    account_number: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "request_id": self.request_id,
            "kind": self.kind,
            "address": self.address,
            "sequence": self.sequence,
            "sent_by_this_run": self.sent,
            "height": self.height,
            "gas_used": self.gas_used,
            "sends": self.sends,
            "trading_key": None
            if self.trading_key is None
            else bot_config(self.trading_key, self.account_number),
            "trading_key_file": None if self.trading_key_file is None else str(self.trading_key_file),
            "notes": list(self.notes),
        }


def bot_config(key: TradingKey, account_number: int) -> dict[str, Any]:
    """What a trading bot configures: sign with the hot key for the owner, under this authenticator id."""
    return {**key.to_json(), "owner_account_number": account_number}


def _signed_payload(data: bytes) -> Payload:
    payload = decode_payload(data)  # the origin signature and the SignDoc → key → address chain verify here
    if payload.kind != "v4-signed-tx":
        raise InputError(f"expected a v4-signed-tx from the cold machine, got a {payload.kind} payload")
    return payload


def _request_for(journal: V4Journal, signed: Payload) -> StoredRequest:
    if signed.answers is None:
        raise VerificationError("the signed transaction names no request it answers; nothing was sent")
    request = journal.request(signed.answers)
    if request is None:
        raise VerificationError(
            f"the signed transaction answers request {signed.answers[:40]}, which this relay did not prepare "
            "(another --state?); nothing was sent"
        )
    if request.sha256 != signed.body["request_sha256"]:
        raise VerificationError(
            f"the signed transaction was made for another version of request {request.id} (SHA-256 differs); "
            "nothing was sent"
        )
    return request


def check_against_request(request: StoredRequest, raw: bytes) -> None:
    """The TxRaw is exactly the request's transaction, signed over the SignDoc rebuilt from the request."""
    unsigned = unsigned_from_fields(request.payload.body["tx"])
    parsed = parse_tx(raw)
    if (parsed.raw.body_bytes, parsed.raw.auth_info_bytes) != (unsigned.body_bytes, unsigned.auth_info_bytes):
        raise VerificationError(
            f"the signed transaction is not the one request {request.id} asked for (its body or fee "
            "differs); nothing was sent"
        )
    try:
        verify_direct(unsigned.auth_info.signer.public_key, unsigned.sign_doc().encode(), parsed.signature)
    except AirgapError:
        raise VerificationError(
            f"the signature does not verify over the SignDoc of request {request.id} (chain "
            f"{request.chain_id}, account number {request.account_number}); nothing was sent"
        ) from None


def _steps_detail(steps: tuple[Step, ...]) -> list[dict[str, str]]:
    return [{"action": s.action, "outcome": s.outcome, "detail": s.detail[:300]} for s in steps]


def _precheck(node: V4Node, request: StoredRequest, digest: str) -> TxResult | None:
    """Before the first send: on chain already (journal lost)? expired? sequence still ours?"""
    found = node.tx(digest)
    if found is not None:
        return found
    block = node.latest_block()
    if block.height >= request.timeout_height:
        raise PolicyError(
            f"the chain is at height {block.height}, past the timeout height {request.timeout_height} of "
            f"transaction {digest}: it can never be included and was not sent; {RESIGN}"
        )
    account = node.account(request.address)
    if account is None:
        raise RemoteError(f"the node knows no account {request.address}; nothing was sent")
    if account.account_number != request.account_number:
        raise PolicyError(
            f"{request.address} has account number {account.account_number} on this node, not the "
            f"{request.account_number} signed for; nothing was sent"
        )
    if account.sequence != request.sequence:
        raise PolicyError(
            f"the account's sequence is now {account.sequence}, the transaction was signed for "
            f"{request.sequence}: another transaction used it (e.g. a trading key's stateful order), so this "
            f"one can never be included; nothing was sent; {RESIGN} (the relay never re-signs)"
        )
    return None


def broadcast_v4(data: bytes, options: BroadcastOptions) -> V4BroadcastResult:
    signed = _signed_payload(data)
    target = parse_node_url(options.node_url)
    raw = bytes.fromhex(signed.body["tx_raw"])
    digest = tx_hash(raw)
    network = network_by_chain_id(signed.body["chain_id"])
    factory = options.node_factory or (
        lambda t, n: V4Node(t, n, timeout=options.timeout, report=options.report)
    )
    with locked_state_dir(options.state_dir) as directory, V4Journal.open(directory) as journal:
        request = _request_for(journal, signed)
        check_against_request(request, raw)
        existing = journal.broadcast(digest)
        with factory(target, network) as node:
            if existing is not None and existing.state in FINAL_STATES:
                return _already(node, journal, request, existing.state, digest, raw, options)
            pending = existing is not None and existing.state in ("sending", "pending")
            on_chain = None if pending else _precheck(node, request, digest)
            journal.start_broadcast(digest, request.id, raw.hex(), target.origin)
            timing: dict[str, Any] = {
                "timeout_height": request.timeout_height,
                "wait_seconds": options.wait_seconds,
                "poll_interval": options.poll_interval,
                "report": options.report,
            }
            try:
                if on_chain is not None:
                    delivery = resume(node, raw, accepted=True, **timing)
                elif pending:
                    assert existing is not None
                    delivery = resume(node, raw, accepted=existing.state == "pending", **timing)
                else:
                    delivery = deliver(node, raw, **timing)
            except DeliveryError as exc:
                _journal_failure(journal, digest, exc)
                raise
            result = _finish(node, journal, request, delivery, raw, options)
            result.sent = delivery.sends > 0
            return result


def _journal_failure(journal: V4Journal, digest: str, exc: DeliveryError) -> None:
    detail = {"steps": _steps_detail(exc.steps)}
    accepted = any(s.action == "send" and s.outcome == "answered" for s in exc.steps)
    if isinstance(exc, Refused):
        state = "refused"
    elif isinstance(exc, TransactionFailed):
        state = "failed"
    elif isinstance(exc, Expired):
        state = "expired"
    elif isinstance(exc, StillPending) and accepted:
        state = "pending"
    else:
        state = "sending"  # it may be in flight: the next run asks before anything else
    journal.update_broadcast(digest, state, note=exc.message[:500], detail=detail)


def _finish(
    node: V4Node,
    journal: V4Journal,
    request: StoredRequest,
    delivery: Delivery,
    raw: bytes,
    options: BroadcastOptions,
) -> V4BroadcastResult:
    included = delivery.result
    journal.update_broadcast(
        delivery.txhash,
        "included",
        height=included.height,
        code=included.code,
        gas_used=included.gas_used,
        detail={"steps": _steps_detail(delivery.steps)},
    )
    result = V4BroadcastResult(
        delivery.txhash,
        request.id,
        request.kind,
        request.address,
        request.sequence,
        True,
        included.height,
        included.gas_used,
        delivery.sends,
        account_number=request.account_number,
    )
    if request.kind == "add-trading-key":
        _trading_key(node, journal, request, raw, included, result, options)
    return result


def _trading_key(
    node: V4Node,
    journal: V4Journal,
    request: StoredRequest,
    raw: bytes,
    included: TxResult,
    result: V4BroadcastResult,
    options: BroadcastOptions,
) -> None:
    key = read_back(node, raw, included)
    config = bot_config(key, request.account_number)
    journal.log(request.id, result.tx_hash, "trading-key", config)
    out = options.trading_key_out or Path(f"trading-key-{key.authenticator_id}.json")
    atomic_write_bytes(out, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    result.trading_key = key
    result.trading_key_file = out
    if not key.verdict.safe:
        result.notes.append(f"WARNING: the authorised tree is NOT safe for a hot key: {key.verdict.reason}")
    if key.same_tree_ids:
        ids = ", ".join(str(i) for i in key.same_tree_ids)
        result.notes.append(f"the same tree is also authenticator {ids}: remove the older copies")


def _already(
    node: V4Node,
    journal: V4Journal,
    request: StoredRequest,
    state: str,
    digest: str,
    raw: bytes,
    options: BroadcastOptions,
) -> V4BroadcastResult:
    """A transaction this relay already settled: report it from the chain, send nothing."""
    stored = journal.broadcast(digest)
    assert stored is not None
    if state != "included":
        raise PolicyError(
            f"transaction {digest} was already {state}: {stored.note or 'see the journal'}; nothing was sent "
            f"again; {RESIGN}"
        )
    found = node.tx(digest)
    if found is None:
        raise RemoteError(
            f"the journal has {digest} included but the node does not know it; nothing was sent"
        )
    journal.log(request.id, digest, "replayed", {"note": "already included; nothing was sent again"})
    result = V4BroadcastResult(
        digest,
        request.id,
        request.kind,
        request.address,
        request.sequence,
        False,
        found.height,
        found.gas_used,
        0,
        account_number=request.account_number,
        notes=["already included; nothing was sent again"],
    )
    if request.kind == "add-trading-key":
        _trading_key(node, journal, request, raw, found, result, options)
    return result
