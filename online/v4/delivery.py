"""Getting one signed transaction into a block without ever handing the node the same bytes blindly twice.

A SYNC broadcast can fail in three ways that look alike to the sender: nothing reached the node (no
connection: :class:`~dydx_airgap.online.v4.node.NotSent`), or it reached the node and the answer was lost
(a timeout after sending, a dropped connection, a 5xx:
:class:`~dydx_airgap.online.v4.node.BroadcastUncertain`). Only the first may be resent at once. After
an ambiguous attempt the status is queried first —
``GET /cosmos/tx/v1beta1/txs/{hash}`` — and again each poll until the chain has made ``settle_blocks``
blocks since: a transaction that reached the mempool is in one of them. Only a transaction the chain has
still not included after that is sent again. (Resending identical bytes could not execute twice anyway —
the sequence allows one inclusion, a copy in the mempool gets code 19 — but a node that is handed the
same transaction twice is a relay that does not know what it did.)

A CheckTx answer of 0 or 19 means the node has it: then inclusion is polled until ``wait_seconds`` pass
(:class:`StillPending`: run again, nothing is resent while the node may hold it) or the timeout height is
behind the chain (:class:`Expired`: it can never be included). Code 32 may mean "this very transaction
is already included", so the status is queried before it is reported. Every step is recorded in
:attr:`Delivery.steps` so a caller can journal and show exactly what was sent and asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dydx_airgap.online.v4.codes import RESIGN, explain
from dydx_airgap.online.v4.node import BroadcastUncertain, NotSent, TxResult, V4Node
from dydx_airgap.shared.dydx_v4.tx import tx_hash
from dydx_airgap.shared.errors import AirgapError, RemoteError

EXIT_PENDING = 3
EXIT_FAILED = 4
#: Sends of one transaction at most (each after proof that the node does not have it).
MAX_SENDS = 4
TX_IN_MEMPOOL = 19
WRONG_SEQUENCE = 32

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """One thing the relay did: ``send`` (with its outcome), or ``status`` (a tx-status query)."""

    action: str  # "send" | "status"
    outcome: str  # send: "answered", "not_sent", "ambiguous"; status: "included", "not_included"
    detail: str = ""


@dataclass(frozen=True)
class Delivery:
    txhash: str
    result: TxResult
    steps: tuple[Step, ...]

    @property
    def sends(self) -> int:
        return sum(1 for s in self.steps if s.action == "send")


class DeliveryError(RemoteError):
    """A delivery that did not end in a successful inclusion; ``steps`` says what was done."""

    def __init__(self, message: str, steps: tuple[Step, ...]) -> None:
        super().__init__(message)
        self.steps = steps


class Refused(DeliveryError):
    """CheckTx refused the transaction: nothing entered the mempool, no fee was paid."""


class TransactionFailed(DeliveryError):
    """Included with a non-zero code: final; fee and sequence are spent, the messages had no effect."""

    exit_code = EXIT_FAILED


class StillPending(DeliveryError):
    """The node has the transaction but no block included it before the wait ended; running again waits on."""

    exit_code = EXIT_PENDING


class Expired(DeliveryError):
    """The chain is past the transaction's timeout height and never included it: it can no longer be."""


@dataclass
class _Run:
    node: V4Node
    tx_bytes: bytes
    timeout_height: int
    deadline: float
    poll_interval: float
    settle_blocks: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    report: Reporter
    txhash: str = ""
    steps: list[Step] = field(default_factory=list)

    def record(self, action: str, outcome: str, detail: str = "") -> None:
        self.steps.append(Step(action, outcome, detail))

    def fail(self, kind: type[DeliveryError], message: str) -> DeliveryError:
        return kind(message, tuple(self.steps))

    def status(self) -> TxResult | None:
        found = self.node.tx(self.txhash)
        self.record("status", "not_included" if found is None else "included")
        return found

    def expired(self, height: int) -> bool:
        # The chain refuses the transaction in any block above its timeout height (spec §B7).
        return self.timeout_height != 0 and height >= self.timeout_height

    def finish(self, result: TxResult) -> Delivery:
        if not result.ok:
            raise self.fail(
                TransactionFailed,
                f"transaction {self.txhash} was included in block {result.height} and failed: "
                f"{explain(result.code, result.codespace, result.raw_log)} (its fee and sequence are spent)",
            )
        return Delivery(self.txhash, result, tuple(self.steps))

    def settle(self) -> TxResult | None:
        """After an ambiguous send: query the status until it is included or ``settle_blocks`` have passed."""
        start = self.node.latest_block().height
        while True:
            found = self.status()
            if found is not None:
                return found
            height = self.node.latest_block().height
            if self.expired(height) or height >= start + self.settle_blocks:
                return None
            if self.clock() >= self.deadline:
                raise self.fail(
                    StillPending,
                    f"transaction {self.txhash}: the node may hold it but no block came before the wait "
                    "ended; run again to keep waiting (nothing is resent while it may be pending)",
                )
            self.sleep(self.poll_interval)

    def wait_for_inclusion(self) -> Delivery:
        while True:
            found = self.status()
            if found is not None:
                return self.finish(found)
            if self.expired(self.node.latest_block().height):
                # Checked after the status query: it may have been included in the last allowed block.
                found = self.status()
                if found is not None:
                    return self.finish(found)
                raise self.fail(
                    Expired,
                    f"transaction {self.txhash} was not included before its timeout height "
                    f"{self.timeout_height} and never will be; nothing happened; {RESIGN}",
                )
            if self.clock() >= self.deadline:
                raise self.fail(
                    StillPending,
                    f"transaction {self.txhash} is in the node's mempool but not yet in a block; run again "
                    "to keep waiting (it will not be sent again)",
                )
            self.sleep(self.poll_interval)

    def run(self) -> Delivery:
        self.txhash = tx_hash(self.tx_bytes)
        if self.expired(self.node.latest_block().height):
            raise self.fail(
                Expired,
                f"transaction {self.txhash}: the chain has reached its timeout height {self.timeout_height}; "
                f"it was not sent; {RESIGN}",
            )
        for send in range(1, MAX_SENDS + 1):
            try:
                answer = self.node.broadcast_sync(self.tx_bytes)
            except NotSent as exc:
                self.record("send", "not_sent", exc.message)
                self.report(f"{exc.message}; sending again")
                self.sleep(self.poll_interval)
                continue
            except BroadcastUncertain as exc:
                self.record("send", "ambiguous", exc.message)
                self.report(f"{exc.message}; asking the node whether it has the transaction")
                found = self.settle()
                if found is not None:
                    return self.finish(found)
                if send < MAX_SENDS:
                    self.report(f"transaction {self.txhash} is not on chain after the wait; sending it again")
                continue
            self.record("send", "answered", f"code {answer.code}")
            if answer.code == 0 or (answer.code == TX_IN_MEMPOOL and answer.codespace in ("", "sdk")):
                return self.wait_for_inclusion()
            if answer.code == WRONG_SEQUENCE and answer.codespace in ("", "sdk"):
                # This very transaction may have landed (an earlier uncertain attempt, or another relay run):
                # the status, not the refusal, says what happened.
                found = self.status()
                if found is not None:
                    return self.finish(found)
            raise self.fail(
                Refused,
                f"the node refused transaction {self.txhash}: "
                f"{explain(answer.code, answer.codespace, answer.raw_log)}",
            )
        raise self.fail(
            DeliveryError,
            f"transaction {self.txhash}: no send of {MAX_SENDS} reached the node with an answer, and it is "
            "not on chain; run again later (identical bytes cannot execute twice)",
        )


def deliver(
    node: V4Node,
    tx_bytes: bytes,
    *,
    timeout_height: int = 0,
    wait_seconds: float = 120.0,
    poll_interval: float = 1.0,
    settle_blocks: int = 2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Reporter | None = None,
) -> Delivery:
    """Broadcast ``tx_bytes`` (a signed TxRaw) and wait for its inclusion, per the module docstring."""
    if settle_blocks < 1 or poll_interval < 0 or wait_seconds < 0:
        raise AirgapError("settle_blocks >= 1, poll_interval >= 0 and wait_seconds >= 0")
    run = _Run(
        node,
        tx_bytes,
        timeout_height,
        clock() + wait_seconds,
        poll_interval,
        settle_blocks,
        clock,
        sleep,
        report or (lambda line: None),
    )
    return run.run()


def resume(
    node: V4Node,
    tx_bytes: bytes,
    *,
    accepted: bool,
    timeout_height: int = 0,
    wait_seconds: float = 120.0,
    poll_interval: float = 1.0,
    settle_blocks: int = 2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Reporter | None = None,
) -> Delivery:
    """Carry on with a transaction an earlier run already handed (or may have handed) to a node.

    ``accepted``: a node answered CheckTx 0 or 19 then, so it holds or held the bytes — only the status is
    polled, nothing is sent. Otherwise the earlier send may or may not have arrived (a crash, a lost
    answer): the status is asked until ``settle_blocks`` blocks have passed, and only a transaction still
    not on chain after that is sent, under the rules of :func:`deliver`.
    """
    if settle_blocks < 1 or poll_interval < 0 or wait_seconds < 0:
        raise AirgapError("settle_blocks >= 1, poll_interval >= 0 and wait_seconds >= 0")
    run = _Run(
        node,
        tx_bytes,
        timeout_height,
        clock() + wait_seconds,
        poll_interval,
        settle_blocks,
        clock,
        sleep,
        report or (lambda line: None),
    )
    run.txhash = tx_hash(tx_bytes)
    if accepted:
        return run.wait_for_inclusion()
    found = run.settle()
    if found is not None:
        return run.finish(found)
    return run.run()
