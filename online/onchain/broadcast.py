"""``dydx-relay broadcast``: check a ``signed-tx`` against the request it answers, send it once, follow it.

Before a byte leaves (security.md T1, T4, T8):

* the signed payload must answer a ``tx-request`` this relay journaled, with the same SHA-256 — a signature
  over an altered request is refused;
* the raw transaction is decoded (:mod:`dydx_airgap.shared.ethereum.transaction`) and must be exactly
  what the request asked: chain id, nonce, both fees, gas limit, recipient, value, data, no access
  list; and its signature must recover to the payload's address;
* the node must serve that chain id, the request must not have expired, and the nonce must be the next one
  the node expects (a later one would only wait in the pool behind a missing transaction).

Idempotency (security.md check 10): broadcasts are journaled by transaction hash as ``sending`` before the
send. A hash already journaled is never sent again: its receipt is looked up instead, and waited for if the
node still holds the transaction. Only when the node has forgotten it entirely does ``--rebroadcast`` send the
same bytes again (identical bytes have one hash and can execute at most once).

The node's refusals become one line each: "nonce too low" (then the receipt of this very hash is checked —
it may be mined already), "replacement transaction underpriced", "insufficient funds", a base fee above the
signed max fee. A receipt with status 0 is replayed with ``eth_call`` at its block to recover the revert
reason (e.g. ``INVALID_SIGNATURE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dydx_airgap.online.firm_addresses import require_firm_address
from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.onchain.chain_reads import registered_eth_key, usdc_allowance, usdc_balance
from dydx_airgap.online.onchain.revert import explain, reason_of
from dydx_airgap.online.onchain.rpc import EthRpc, Receipt, RpcCallError, parse_rpc_url
from dydx_airgap.online.onchain.tx_journal import LIVE_STATES, Broadcast, StoredRequest, TxJournal
from dydx_airgap.online.onchain.units import format_eth, format_gwei
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.shared.dydx_v3.calldata import UNLIMITED_ALLOWANCE, decode_calldata, format_usdc
from dydx_airgap.shared.dydx_v3.networks import NETWORKS, Network
from dydx_airgap.shared.errors import (
    AirgapError,
    FormatError,
    InputError,
    PolicyError,
    RemoteError,
    VerificationError,
)
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import SignedEip1559Transaction, decode_signed_transaction
from dydx_airgap.shared.transport.payload import Payload, decode_payload

DEFAULT_TIMEOUT = 300.0
EXIT_PENDING = 3
EXIT_REVERTED = 4
LOG_DEPOSIT_TOPIC = keccak256(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)")
_LOOPBACK_POLL = 0.2
_REMOTE_POLL = 2.0


class StillPending(RemoteError):
    """Not mined before ``--timeout``; running the command again keeps waiting without resending."""

    exit_code = EXIT_PENDING


class TransactionReverted(RemoteError):
    """Mined with status 0: final; the gas is spent and nothing else changed."""

    exit_code = EXIT_REVERTED


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class WaitStatus:
    """One look at a transaction not mined yet, for a progress display."""

    tx_hash: str
    action: str
    elapsed: float
    timeout: float
    head_block: int
    in_pool: bool
    polls: int


@dataclass(frozen=True)
class BroadcastOptions:
    rpc_url: str
    state_dir: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: Seconds between receipt polls; None: 0.2 s for a node on loopback, 2 s otherwise.
    poll_interval: float | None = None
    rebroadcast: bool = False
    progress: Callable[[WaitStatus], None] | None = None
    report: Callable[[str], None] = _quiet
    transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    #: Firm addresses allowed besides those pinned in the state directory (``--expect-address``).
    expect_addresses: tuple[str, ...] = ()


@dataclass
class BroadcastResult:
    outcome: str  # always "mined": failures raise
    sent: bool  # whether this run put the bytes on the wire and the node accepted them
    action: str
    request_id: str
    network_id: int
    address: str
    nonce: int
    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int | None
    journal_path: Path
    checks: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fee_paid_wei(self) -> int | None:
        return None if self.effective_gas_price is None else self.gas_used * self.effective_gas_price

    def to_json(self) -> dict[str, Any]:
        fee = self.fee_paid_wei
        return {
            "outcome": self.outcome,
            "sent": self.sent,
            "action": self.action,
            "request_id": self.request_id,
            "network_id": self.network_id,
            "address": self.address,
            "nonce": self.nonce,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "gas_used": self.gas_used,
            "effective_gas_price": self.effective_gas_price,
            "fee_paid_wei": None if fee is None else str(fee),
            "checks": dict(self.checks),
            "notes": list(self.notes),
            "journal": str(self.journal_path),
        }


# ---- matching the signed transaction to its request ----------------------------------------------------


def _short(data: bytes) -> str:
    text = "0x" + data.hex()
    return text if len(text) <= 26 else f"{text[:18]}…({len(data)} bytes)"


def check_signed_tx(signed_payload: Payload, request: StoredRequest) -> SignedEip1559Transaction:
    """Decode the raw transaction and prove it is exactly ``request``'s, signed by its address."""
    body = signed_payload.body
    where = f"signed-tx {signed_payload.fingerprint} (answering request {request.id})"
    if body["request_sha256"] != request.sha256:
        raise VerificationError(
            f"{where} was signed from a request with SHA-256 {body['request_sha256'][:16]}…, but the request "
            f"this relay prepared has {request.sha256[:16]}…: the request was altered; nothing was sent"
        )
    if signed_payload.network_id != request.network_id:
        raise VerificationError(
            f"{where} is for network {signed_payload.network_id}, the request for {request.network_id}; "
            "nothing was sent"
        )
    if signed_payload.address is None or not same_address(signed_payload.address, request.address):
        raise VerificationError(
            f"{where} names address {signed_payload.address}, not {request.address}; nothing was sent"
        )
    if body["action"] != request.action:
        raise VerificationError(
            f"{where} says {body['action']}, the request was {request.action}; nothing was sent"
        )
    try:
        signed = decode_signed_transaction(bytes.fromhex(body["raw"][2:]))
    except AirgapError as exc:
        raise type(exc)(
            f"{where}: the raw transaction is unusable: {exc.message}; nothing was sent"
        ) from None
    if "0x" + signed.tx_hash.hex() != body["tx_hash"]:
        raise VerificationError(f"{where}: tx_hash is not the hash of the raw transaction; nothing was sent")

    tx = signed.transaction
    want = request.payload.body["transaction"]
    differences: list[str] = []
    for name in ("chain_id", "nonce", "max_priority_fee_per_gas", "max_fee_per_gas", "gas_limit", "value"):
        have = getattr(tx, name)
        if have != want[name]:
            differences.append(f"{name} is {have}, the request asked {want[name]}")
    want_to = parse_address(want["to"])
    if tx.to != want_to:
        shown = "none (contract creation)" if tx.to is None else to_checksum_address(tx.to)
        differences.append(f"to is {shown}, the request asked {to_checksum_address(want_to)}")
    want_data = bytes.fromhex(want["data"][2:])
    if tx.data != want_data:
        differences.append(f"data is {_short(tx.data)}, the request asked {_short(want_data)}")
    if tx.access_list:
        differences.append("it carries an access list, the request none")
    if differences:
        raise VerificationError(
            f"{where} is not the transaction the request asked for: {'; '.join(differences)}; "
            "nothing was sent"
        )
    if not same_address(signed.sender_address, request.address):
        raise VerificationError(
            f"{where} is signed by {signed.sender_address}, not by {request.address}; nothing was sent"
        )
    return signed


# ---- the broadcast ---------------------------------------------------------------------------------------


def broadcast_signed(data: bytes, options: BroadcastOptions) -> BroadcastResult:
    """Check ``data`` (a signed-tx payload), broadcast it unless already journaled, wait for the receipt."""
    payload = decode_payload(data)
    if payload.kind != "signed-tx":
        raise InputError(
            f"a {payload.kind} payload is not a signed transaction: broadcast takes the signed-tx file "
            "written by 'dydx-offline sign tx'"
        )
    if payload.answers is None:
        raise FormatError("the signed-tx payload does not name the request it answers")
    if payload.is_expired():
        raise PolicyError(f"the signed-tx payload expired at {payload.expires}; nothing was sent")
    if options.timeout < 0:
        raise InputError("--timeout must not be negative")
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
        request = journal.request(payload.answers)
        if request is None:
            raise InputError(
                f"the signed transaction answers request {payload.answers}, which is not in {journal.path}: "
                "broadcast with the relay state (--state) that prepared it; nothing was sent"
            )
        signed = check_signed_tx(payload, request)
        return _Broadcast(options, journal, rpc, request, signed).run()


class _Broadcast:
    def __init__(
        self,
        options: BroadcastOptions,
        journal: TxJournal,
        rpc: EthRpc,
        request: StoredRequest,
        signed: SignedEip1559Transaction,
    ) -> None:
        self.options = options
        self.journal = journal
        self.rpc = rpc
        self.request = request
        self.signed = signed
        self.tx = signed.transaction
        self.raw = signed.raw()
        self.hash = signed.tx_hash
        self.hash_text = "0x" + self.hash.hex()
        self.address = request.address
        self.network: Network = NETWORKS[request.network_id]
        self.sent = False
        self.notes: list[str] = []
        if options.poll_interval is not None:
            self.poll_interval = max(0.01, options.poll_interval)
        else:
            self.poll_interval = _LOOPBACK_POLL if rpc.target.loopback else _REMOTE_POLL

    def report(self, line: str) -> None:
        self.options.report(line)

    def run(self) -> BroadcastResult:
        served = self.rpc.chain_id()
        if served != self.tx.chain_id:
            raise PolicyError(
                f"the node at {self.rpc.target.origin} serves chain id {served}, but the transaction is for "
                f"{self.network.label}; nothing was sent"
            )
        existing = self.journal.broadcast(self.hash_text)
        if existing is not None and existing.state != "refused":
            return self._follow_up(existing)
        others = [
            b
            for b in self.journal.broadcasts_of(self.request.id)
            if b.tx_hash != self.hash_text and b.state in LIVE_STATES
        ]
        if others:
            raise PolicyError(
                f"request {self.request.id} was already broadcast as {others[0].tx_hash} "
                f"({others[0].state}); this is another signature of the same request and cannot be mined "
                "too; nothing was sent"
            )
        if self.request.payload.is_expired():
            raise PolicyError(
                f"request {self.request.id} expired at {self.request.payload.expires}: its nonce and fees "
                "may be stale; prepare and sign a new one; nothing was sent"
            )
        pending = self.rpc.transaction_count(self.address, "pending")
        if self.tx.nonce > pending:
            waiting = self.journal.requests_at_nonce(self.request.network_id, self.address, pending)
            hint = f" (request {waiting[0].id}, {waiting[0].action})" if waiting else ""
            raise PolicyError(
                f"nonce {self.tx.nonce} is ahead of {self.address}'s next nonce {pending}: broadcast the "
                f"transaction with nonce {pending}{hint} first, or this one would only wait in the pool; "
                "nothing was sent"
            )
        return self._send()

    # ---- sending ----

    def _send(self) -> BroadcastResult:
        self.journal.start_broadcast(
            self.hash_text, self.request.id, "0x" + self.raw.hex(), self.rpc.target.origin
        )
        self.report(f"sending {self.request.action} transaction {self.hash_text} to {self.rpc.target.origin}")
        try:
            answered = self.rpc.send_raw_transaction(self.raw)
        except RpcCallError as exc:
            return self._refused_by_node(exc)
        except RemoteError as exc:
            # No answer: the node may or may not have it. The journal keeps "sending"; the next run asks.
            self.journal.update_broadcast(self.hash_text, "sending", note=exc.message)
            raise RemoteError(
                f"{exc.message}; the transaction may have reached the node: run the same command again, it "
                "looks the hash up before sending anything"
            ) from None
        self.sent = True
        if answered != self.hash:
            self.notes.append(
                f"the node answered with hash 0x{answered.hex()}, not {self.hash_text}; following ours"
            )
        self.journal.update_broadcast(self.hash_text, "pending", note="accepted by the node")
        return self._wait()

    def _refused(self, message: str) -> RemoteError:
        self.journal.update_broadcast(self.hash_text, "refused", note=message)
        return RemoteError(message)

    def _refused_by_node(self, exc: RpcCallError) -> BroadcastResult:
        text = exc.node_message
        lower = text.lower()
        nonce = self.tx.nonce
        if "already known" in lower or "known transaction" in lower:
            self.sent = True
            self.journal.update_broadcast(self.hash_text, "pending", note="the node already had it")
            self.notes.append("the node already had this transaction in its pool")
            return self._wait()
        if "nonce too low" in lower:
            receipt = self.rpc.receipt(self.hash)
            if receipt is not None:
                self.notes.append("this very transaction was already mined (the node said 'nonce too low')")
                return self._finish(receipt)
            latest = self.rpc.transaction_count(self.address, "latest")
            raise self._refused(
                f"nonce too low: nonce {nonce} of {self.address} is already used by another transaction (the "
                f"next nonce is {latest}), so this one can never be mined; prepare and sign a new request"
            )
        if "replacement transaction underpriced" in lower or "replacement underpriced" in lower:
            raise self._refused(
                f"replacement transaction underpriced: another transaction with nonce {nonce} from "
                f"{self.address} waits in the node's pool and this one does not pay at least 10 % more on "
                f"both fees; wait for it to be mined, or prepare a replacement with --nonce {nonce} and a "
                "higher --priority-fee-gwei"
            )
        if "insufficient funds" in lower:
            balance = self.rpc.balance(self.address)
            need = self.tx.gas_limit * self.tx.max_fee_per_gas + self.tx.value
            raise self._refused(
                f"insufficient funds: {self.address} holds {format_eth(balance)} but the node wants up to "
                f"{format_eth(need)} (gas limit x max fee); add ETH, then run the same command again"
            )
        if "base fee" in lower and ("less than" in lower or "fee cap" in lower):
            raise self._refused(
                "the base fee has risen above this transaction's max fee of "
                f"{format_gwei(self.tx.max_fee_per_gas)} per gas ({text}); prepare and sign a new request "
                "with current fees"
            )
        raise self._refused(f"the node refused the transaction: {text}")

    # ---- after an earlier run ----

    def _follow_up(self, existing: Broadcast) -> BroadcastResult:
        self.notes.append(
            f"already broadcast ({existing.state} since {existing.updated_at}); nothing was sent again"
        )
        receipt = self.rpc.receipt(self.hash)
        if receipt is not None:
            return self._finish(receipt)
        if existing.state in ("mined", "reverted"):
            self.notes.append(
                f"the journal says {existing.state} in block {existing.block_number}, but this node has no "
                "receipt (another node, or a reorganisation?)"
            )
        if self.rpc.transaction(self.hash) is not None:
            self.report(
                f"{self.hash_text} is already in the node's pool: waiting for it, not sending it again"
            )
            return self._wait()
        latest = self.rpc.transaction_count(self.address, "latest")
        if latest > self.tx.nonce:
            raise self._refused(
                f"transaction {self.hash_text} was replaced or dropped: nonce {self.tx.nonce} of "
                f"{self.address} was used by another transaction; prepare and sign a new request"
            )
        if self.options.rebroadcast:
            self.notes[-1] = (
                "the node no longer knew this transaction: the same bytes were sent again (--rebroadcast)"
            )
            return self._send()
        raise RemoteError(
            f"transaction {self.hash_text} was broadcast before ({existing.state}) but the node at "
            f"{self.rpc.target.origin} does not know it (dropped from its pool, or sent to another node); "
            "nothing was sent: run again with --rebroadcast to send the same bytes (they can be mined only "
            "once)"
        )

    # ---- waiting ----

    def _wait(self) -> BroadcastResult:
        try:
            return self._poll()
        except KeyboardInterrupt:
            # The bytes are out: saying "nothing was done" (the CLI's default for ^C) would be false.
            raise StillPending(
                f"interrupted while waiting for {self.hash_text}, which the node has; run the same command "
                "again to keep waiting; it will not be sent twice"
            ) from None

    def _poll(self) -> BroadcastResult:
        options = self.options
        start = options.monotonic()
        polls = 0
        while True:
            receipt = self.rpc.receipt(self.hash)
            if receipt is not None:
                return self._finish(receipt)
            polls += 1
            elapsed = options.monotonic() - start
            in_pool = self.rpc.transaction(self.hash) is not None
            head = self.rpc.block_number()
            if options.progress is not None:
                options.progress(
                    WaitStatus(
                        self.hash_text, self.request.action, elapsed, options.timeout, head, in_pool, polls
                    )
                )
            if not in_pool and self.rpc.transaction_count(self.address, "latest") > self.tx.nonce:
                if self.rpc.receipt(self.hash) is None:  # mined between the two looks?
                    raise self._refused(
                        f"transaction {self.hash_text} was replaced: nonce {self.tx.nonce} of "
                        f"{self.address} was used by another transaction; prepare and sign a new request"
                    )
                continue
            if elapsed >= options.timeout:
                where = "it waits in the node's pool" if in_pool else "the node no longer shows it"
                raise StillPending(
                    f"transaction {self.hash_text} is not mined after {options.timeout:.0f} s ({where}); "
                    "run the same command again to keep waiting; it will not be sent twice"
                )
            options.sleep(min(self.poll_interval, max(0.0, options.timeout - elapsed)))

    # ---- the outcome ----

    def _finish(self, receipt: Receipt) -> BroadcastResult:
        if not receipt.succeeded:
            reason = self._revert_reason(receipt)
            self.journal.update_broadcast(
                self.hash_text,
                "reverted",
                note=reason,
                block_number=receipt.block_number,
                gas_used=receipt.gas_used,
            )
            raise TransactionReverted(
                f"transaction {self.hash_text} ({self.request.action}) was mined in block "
                f"{receipt.block_number} but reverted: {explain(reason)}; its gas was spent and nothing else "
                "changed"
            )
        self.journal.update_broadcast(
            self.hash_text, "mined", block_number=receipt.block_number, gas_used=receipt.gas_used
        )
        checks = self._confirm(receipt)
        return BroadcastResult(
            outcome="mined",
            sent=self.sent,
            action=self.request.action,
            request_id=self.request.id,
            network_id=self.request.network_id,
            address=self.address,
            nonce=self.tx.nonce,
            tx_hash=self.hash_text,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
            effective_gas_price=receipt.effective_gas_price,
            journal_path=self.journal.path,
            checks=checks,
            notes=self.notes,
        )

    def _revert_reason(self, receipt: Receipt) -> str:
        tx = self.tx
        assert tx.to is not None  # the request always names a contract
        try:
            self.rpc.eth_call(
                tx.to,
                tx.data,
                sender=self.address,
                value=tx.value,
                gas=tx.gas_limit,
                block=receipt.block_number,
            )
        except RpcCallError as exc:
            if exc.reverted:
                return reason_of(exc)
            return f"no reason available (replaying the call failed: {exc.node_message})"
        if receipt.gas_used >= tx.gas_limit:
            return f"out of gas (all {tx.gas_limit} gas used)"
        return f"no reason available (the call succeeds when replayed at block {receipt.block_number})"

    def _confirm(self, receipt: Receipt) -> list[tuple[str, str]]:
        """What the chain says now about the effect, read back (not inferred from the receipt alone)."""
        net = self.network
        call = decode_calldata(self.tx.data)
        checks: list[tuple[str, str]] = []
        try:
            if self.request.action == "register":
                stark = self.request.payload.body["context"]["stark_public_key"]
                owner = registered_eth_key(self.rpc, net, int(stark, 16))
                verdict = (
                    "registered to this address"
                    if owner and same_address(owner, self.address)
                    else "NOT this address"
                )
                checks.append((f"getEthKey({stark[:10]}…)", f"{owner or 'nobody'} ({verdict})"))
            elif self.request.action == "approve":
                allowance = usdc_allowance(self.rpc, net, self.address)
                shown = "unlimited" if allowance == UNLIMITED_ALLOWANCE else f"{format_usdc(allowance)} USDC"
                checks.append(("USDC allowance of StarkPerpetual", shown))
            else:
                checks.extend(self._deposit_log(receipt, getattr(call, "quantized_amount", None)))
                checks.append(
                    ("USDC balance now", f"{format_usdc(usdc_balance(self.rpc, net, self.address))} USDC")
                )
        except AirgapError as exc:
            self.notes.append(f"the effect could not be read back: {exc.message}")
        return checks

    def _deposit_log(self, receipt: Receipt, expected: int | None) -> list[tuple[str, str]]:
        perpetual = parse_address(self.network.stark_perpetual)
        for log in receipt.logs:
            try:
                address = parse_address(str(log.get("address")))
                topics = log.get("topics") or []
                data = bytes.fromhex(str(log.get("data", "0x"))[2:])
            except (AirgapError, ValueError):
                continue
            if address != perpetual or not topics or str(topics[0]).lower() != "0x" + LOG_DEPOSIT_TOPIC.hex():
                continue
            if len(data) != 6 * 32:
                continue
            words = [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]
            _depositor, _stark, vault, _asset, amount, quantized = words
            verdict = (
                "as requested" if expected is None or quantized == expected else "DIFFERS from the request"
            )
            return [("LogDeposit", f"{format_usdc(amount)} USDC to position {vault} ({verdict})")]
        return [("LogDeposit", "not found in the receipt")]
