"""The stand-in chain: a mempool in front of a block clock, over one SQLite file.

* ``broadcast_sync`` is CheckTx: the ante checks against the *check state* (the last block's state plus
  every transaction waiting in the mempool, as CometBFT's mempool sees it). Code 0 puts the transaction in
  the mempool; identical bytes again while it waits → code 19. A transaction made only of short-term
  orders is recorded in the order book table and answered 0, but — like on dYdX, where such orders travel
  outside blocks — never enters a block (``GET /txs/{hash}`` stays 404).
* ``make_block`` (the block clock, or ``POST /local/blocks``) includes every waiting transaction: the ante
  is re-run at the new height (an expired timeout height is included with code 30 and no effect), then the
  messages run on a copy that is dropped if one fails (fee and sequence stay paid).
* State is stored whole with each block, together with the block's transaction results, in one SQLite
  transaction; a restart resumes from the last block (the mempool, like a node's, is not kept).
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dydx_airgap.online.rehearsal.v4_chain.errors as e
from dydx_airgap.online.sqlite_file import immediate_transaction, open_private_sqlite
from dydx_airgap.shared.dydx_v4.chain_tx import ChainTx, parse_chain_tx
from dydx_airgap.shared.dydx_v4.clob import MsgCancelOrder, MsgPlaceOrder
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.tx import tx_hash
from dydx_airgap.shared.errors import FormatError, InputError

from .ante import run_ante
from .errors import ChainError
from .execute import MESSAGE_GAS, execute
from .state import ChainState

Clock = Callable[[], int]  # milliseconds since the epoch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY,
    height INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    tx_bytes BLOB NOT NULL,
    code INTEGER NOT NULL,
    codespace TEXT NOT NULL,
    raw_log TEXT NOT NULL,
    gas_wanted INTEGER NOT NULL,
    gas_used INTEGER NOT NULL,
    time_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    subaccount INTEGER NOT NULL,
    client_id INTEGER NOT NULL,
    clob_pair_id INTEGER NOT NULL,
    order_flags INTEGER NOT NULL,
    good_til_block INTEGER NOT NULL,
    height INTEGER NOT NULL,
    authenticator_id INTEGER
);
"""


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso_from_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class TxResult:
    hash: str
    height: int
    index: int
    tx_bytes: bytes
    code: int
    codespace: str
    raw_log: str
    gas_wanted: int
    gas_used: int
    time_ms: int


@dataclass
class Counters:
    broadcasts: int = 0
    accepted: int = 0
    refused: int = 0
    duplicates: int = 0
    blocks: int = 0
    by_code: dict[int, int] = field(default_factory=dict)


def _parse(tx_bytes: bytes, *, for_simulation: bool = False) -> ChainTx:
    try:
        return parse_chain_tx(tx_bytes, for_simulation=for_simulation)
    except FormatError as exc:
        raise ChainError(e.TX_DECODE, exc.message) from None


class Chain:
    """All chain operations, serialised by one lock (uvicorn's loop, the block clock and tests share it)."""

    def __init__(self, db: sqlite3.Connection, state: ChainState, network: V4Network, clock: Clock) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.network = network
        self.chain_id = network.chain_id
        self.clock = clock
        self.committed = state
        self.check_state = state.copy()
        self.mempool: list[tuple[str, bytes]] = []
        self.counters = Counters()

    # ---- opening ----

    @classmethod
    def open(
        cls, path: Path, network: V4Network, genesis: Callable[[ChainState], ChainState] | None, clock: Clock
    ) -> Chain:
        db = open_private_sqlite(path, _SCHEMA, "the v4 chain database", check_same_thread=False)
        rows = {r["name"]: r["value"] for r in db.execute("SELECT name, value FROM meta")}
        if "state" in rows:
            if rows.get("chain_id") != network.chain_id:
                db.close()
                raise InputError(f"{path} holds chain {rows.get('chain_id')!r}, not {network.chain_id!r}")
            state = ChainState.from_json(rows["state"])
        else:
            state = ChainState(height=1, time_ms=clock())
            if genesis is not None:
                try:
                    state = genesis(state)
                except InputError:
                    db.close()
                    raise
            with immediate_transaction(db):
                db.execute("INSERT INTO meta (name, value) VALUES ('chain_id', ?)", (network.chain_id,))
                db.execute("INSERT INTO meta (name, value) VALUES ('state', ?)", (state.to_json(),))
                db.execute(
                    "INSERT INTO blocks (height, time_ms, hash) VALUES (?, ?, ?)",
                    (
                        state.height,
                        state.time_ms,
                        hashlib.sha256(state.to_json().encode()).hexdigest().upper(),
                    ),
                )
        return cls(db, state, network, clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- CheckTx / SYNC ----

    def broadcast_sync(self, tx_bytes: bytes) -> dict[str, Any]:
        """The ``tx_response`` of ``POST /cosmos/tx/v1beta1/txs`` in SYNC mode."""
        digest = tx_hash(tx_bytes)
        with self._lock:
            self.counters.broadcasts += 1
            if any(h == digest for h, _ in self.mempool):
                self.counters.duplicates += 1
                return self._refusal(digest, ChainError(e.TX_IN_MEMPOOL))
            try:
                tx = _parse(tx_bytes)
                trial = self.check_state.copy()
                run_ante(
                    trial, tx, len(tx_bytes), chain_id=self.chain_id, network=self.network, check_tx=True
                )
            except ChainError as exc:
                return self._refusal(digest, exc)
            self.counters.accepted += 1
            if tx.body.skips_sequence:
                self._record_orders(digest, tx, self.committed.height)
            else:
                self.check_state = trial
                self.mempool.append((digest, tx_bytes))
            return _response(digest, 0, "", "", 0, 0, height=0)

    def _refusal(self, digest: str, exc: ChainError) -> dict[str, Any]:
        self.counters.refused += 1
        self.counters.by_code[exc.code] = self.counters.by_code.get(exc.code, 0) + 1
        return _response(digest, exc.code, exc.codespace, exc.raw_log, 0, 0, height=0)

    def _record_orders(self, digest: str, tx: ChainTx, height: int) -> None:
        selected = tx.body.selected_authenticators
        with immediate_transaction(self._db) as db:
            for index, msg in enumerate(tx.body.messages):
                if not isinstance(msg, MsgPlaceOrder | MsgCancelOrder):
                    continue
                oid = msg.order_id
                db.execute(
                    "INSERT INTO orders (hash, kind, owner, subaccount, client_id, clob_pair_id, order_flags,"
                    " good_til_block, height, authenticator_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        digest,
                        "place" if isinstance(msg, MsgPlaceOrder) else "cancel",
                        oid.subaccount_id.owner,
                        oid.subaccount_id.number,
                        oid.client_id,
                        oid.clob_pair_id,
                        oid.order_flags,
                        msg.good_til_block,
                        height,
                        selected[index] if selected else None,
                    ),
                )

    # ---- blocks ----

    def make_block(self) -> int:
        """Include every waiting transaction in a new block; return its height."""
        with self._lock:
            state = self.committed.copy()
            state.height += 1
            state.time_ms = max(self.clock(), self.committed.time_ms + 1)
            results: list[TxResult] = []
            for index, (digest, tx_bytes) in enumerate(self.mempool):
                results.append(self._deliver(state, index, digest, tx_bytes))
            block_hash = hashlib.sha256(
                f"{state.height}:{state.time_ms}:{[r.hash for r in results]}".encode()
            )
            with immediate_transaction(self._db) as db:
                db.execute("UPDATE meta SET value = ? WHERE name = 'state'", (state.to_json(),))
                db.execute(
                    "INSERT INTO blocks (height, time_ms, hash) VALUES (?, ?, ?)",
                    (state.height, state.time_ms, block_hash.hexdigest().upper()),
                )
                db.executemany(
                    "INSERT OR IGNORE INTO txs (hash, height, tx_index, tx_bytes, code, codespace, raw_log,"
                    " gas_wanted, gas_used, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.hash,
                            r.height,
                            r.index,
                            r.tx_bytes,
                            r.code,
                            r.codespace,
                            r.raw_log,
                            r.gas_wanted,
                            r.gas_used,
                            r.time_ms,
                        )
                        for r in results
                    ],
                )
            self.committed = state
            self.check_state = state.copy()
            self.mempool = []
            self.counters.blocks += 1
            return state.height

    def _deliver(self, state: ChainState, index: int, digest: str, tx_bytes: bytes) -> TxResult:
        tx = parse_chain_tx(tx_bytes)  # it parsed at CheckTx; the bytes have not changed since
        gas_wanted = tx.auth_info.fee.gas_limit

        def result(code: int, codespace: str, log: str, gas_used: int) -> TxResult:
            return TxResult(
                digest,
                state.height,
                index,
                tx_bytes,
                code,
                codespace,
                log,
                gas_wanted,
                gas_used,
                state.time_ms,
            )

        trial = state.copy()
        try:
            ante = run_ante(
                trial, tx, len(tx_bytes), chain_id=self.chain_id, network=self.network, check_tx=False
            )
        except ChainError as exc:
            return result(exc.code, exc.codespace, exc.raw_log, 0)
        # The ante's effects (fee, sequence) stand from here on, whatever the messages do.
        _replace(state, trial)
        gas = ante.gas_used
        work = state.copy()
        for msg_index, message in enumerate(tx.body.messages):
            gas += MESSAGE_GAS[message.TYPE_URL]
            try:
                if gas > gas_wanted:
                    raise ChainError(
                        e.OUT_OF_GAS,
                        f"out of gas in location: {message.TYPE_URL}; "
                        f"gasWanted: {gas_wanted}, gasUsed: {gas}",
                    )
                execute(work, message, self.network)
            except ChainError as exc:
                log = f"failed to execute message; message index: {msg_index}: {exc.raw_log}"
                return result(exc.code, exc.codespace, log, min(gas, gas_wanted))
        if any(isinstance(m, MsgPlaceOrder | MsgCancelOrder) for m in tx.body.messages):
            self._record_orders(digest, tx, state.height)
        _replace(state, work)
        return result(0, "", "", gas)

    # ---- simulate and queries ----

    def simulate(self, tx_bytes: bytes) -> int:
        """Gas used by ``tx_bytes`` (signature not checked, as the SDK's simulate skips it)."""
        with self._lock:
            tx = _parse(tx_bytes, for_simulation=True)
            size = len(tx_bytes) + (64 if not tx.signature else 0)
            gas = 10 * size + 1000 * len(tx.body.messages)
            return gas + sum(MESSAGE_GAS[m.TYPE_URL] for m in tx.body.messages)

    def get_tx(self, digest: str) -> TxResult | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM txs WHERE hash = ?", (digest.upper(),)).fetchone()
        if row is None:
            return None
        return TxResult(
            row["hash"],
            row["height"],
            row["tx_index"],
            bytes(row["tx_bytes"]),
            row["code"],
            row["codespace"],
            row["raw_log"],
            row["gas_wanted"],
            row["gas_used"],
            row["time_ms"],
        )

    def latest_block(self) -> tuple[int, int, str, list[bytes]]:
        with self._lock:
            state = self.committed
            row = self._db.execute("SELECT hash FROM blocks WHERE height = ?", (state.height,)).fetchone()
            txs = [
                bytes(r[0])
                for r in self._db.execute(
                    "SELECT tx_bytes FROM txs WHERE height = ? ORDER BY tx_index", (state.height,)
                )
            ]
        return state.height, state.time_ms, str(row["hash"]) if row else "", txs

    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute("SELECT * FROM orders ORDER BY id")]

    def faucet(self, address: str, denom: str, amount: int) -> None:
        """Fund an address for a rehearsal, committed at once (a local convenience, not a chain feature)."""
        with self._lock:
            for state in (self.committed, self.check_state):
                state.credit(address, denom, amount)
            with immediate_transaction(self._db) as db:
                db.execute("UPDATE meta SET value = ? WHERE name = 'state'", (self.committed.to_json(),))

    def read(self) -> ChainState:
        """A copy of the committed state (what REST queries answer from)."""
        with self._lock:
            return self.committed.copy()


def _replace(target: ChainState, source: ChainState) -> None:
    target.__dict__.update(source.__dict__)


def _response(
    digest: str, code: int, codespace: str, raw_log: str, gas_wanted: int, gas_used: int, *, height: int
) -> dict[str, Any]:
    return {
        "height": str(height),
        "txhash": digest,
        "codespace": codespace,
        "code": code,
        "data": "",
        "raw_log": raw_log,
        "logs": [],
        "info": "",
        "gas_wanted": str(gas_wanted),
        "gas_used": str(gas_used),
        "tx": None,
        "timestamp": "",
        "events": [],
    }


def result_json(result: TxResult) -> dict[str, Any]:
    body = _response(
        result.hash,
        result.code,
        result.codespace,
        result.raw_log,
        result.gas_wanted,
        result.gas_used,
        height=result.height,
    )
    body["timestamp"] = iso_from_ms(result.time_ms).replace(".000Z", "Z")
    body["tx"] = {"@type": "/cosmos.tx.v1beta1.Tx", "tx_bytes": base64.b64encode(result.tx_bytes).decode()}
    return body
