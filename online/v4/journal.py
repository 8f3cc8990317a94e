"""The v4 journal: every prepared ``v4-tx-request`` and every v4 broadcast, in the relay's state directory.

One SQLite file (``v4-journal.sqlite3``, 0600 from creation) beside the API and on-chain journals. It holds
public material only: the requests the cold side was asked to sign and the signed TxRaw bytes (public the
moment they are broadcast). Node URLs are recorded as origins only (a hosted node's path may hold a key).

* ``requests`` — id, SHA-256 of the payload bytes and the payload: ``v4 broadcast`` accepts a
  ``v4-signed-tx`` only if it answers a request found here with that SHA-256.
* ``broadcasts`` — keyed by transaction hash and written as ``sending`` and committed *before* the bytes
  leave, so a crash mid-send is settled next time by asking the node for that hash, never by a blind resend.
  States: ``sending`` (may be in flight), ``pending`` (in a node's mempool), ``included`` (code 0 in a
  block), ``failed`` (in a block with a non-zero code: fee and sequence spent), ``refused`` (CheckTx said no:
  nothing entered a mempool), ``expired`` (the chain passed the timeout height without including it).
* ``events`` — append-only: what was sent and asked, for the operator and the auditor's receipts.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.online.sqlite_file import immediate_transaction, open_private_sqlite
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload, decode_payload

JOURNAL_FILE = "v4-journal.sqlite3"
BROADCAST_STATES = ("sending", "pending", "included", "failed", "refused", "expired")
#: States after which the same bytes are never handed to a node again by ``v4 broadcast``.
FINAL_STATES = ("included", "failed", "expired")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    chain_id TEXT NOT NULL,
    address TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_number INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    timeout_height INTEGER NOT NULL,
    node_origin TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS broadcasts (
    tx_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests(id),
    raw TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in BROADCAST_STATES)})),
    note TEXT,
    height INTEGER,
    code INTEGER,
    gas_used INTEGER,
    node_origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS v4_broadcasts_by_request ON broadcasts (request_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    request_id TEXT,
    tx_hash TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredRequest:
    id: str
    sha256: str
    chain_id: str
    address: str
    kind: str
    account_number: int
    sequence: int
    timeout_height: int
    node_origin: str
    payload: Payload
    created_at: str


@dataclass(frozen=True)
class Broadcast:
    tx_hash: str
    request_id: str
    raw: str
    state: str
    note: str | None
    height: int | None
    code: int | None
    gas_used: int | None
    node_origin: str
    created_at: str
    updated_at: str


class V4Journal:
    """Callers hold the state directory's lock (``online.state_dir.locked_state_dir``)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> V4Journal:
        path = state_dir / JOURNAL_FILE
        return cls(open_private_sqlite(path, _SCHEMA, "the v4 journal"), path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> V4Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    # ---- requests ----

    def add_request(self, payload: Payload, kind: str, node_origin: str) -> StoredRequest:
        tx = payload.body["tx"]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO requests (id, sha256, chain_id, address, kind, account_number, sequence,"
                " timeout_height, node_origin, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payload.id,
                    payload.digest.hex(),
                    tx["chain_id"],
                    tx["signer_address"],
                    kind,
                    tx["account_number"],
                    tx["sequence"],
                    tx["timeout_height"],
                    node_origin,
                    payload.to_bytes().decode("utf-8"),
                    iso_ms(now_utc()),
                ),
            )
            self._log(db, payload.id, None, "prepared", {"kind": kind, "sha256": payload.digest.hex()})
        found = self.request(payload.id)
        assert found is not None
        return found

    def forget_request(self, request_id: str) -> None:
        """Remove a request that never left the relay (its file could not be written)."""
        with self._transaction() as db:
            db.execute("DELETE FROM events WHERE request_id = ?", (request_id,))
            db.execute("DELETE FROM requests WHERE id = ?", (request_id,))

    @staticmethod
    def _request(row: sqlite3.Row) -> StoredRequest:
        return StoredRequest(
            id=row["id"],
            sha256=row["sha256"],
            chain_id=row["chain_id"],
            address=row["address"],
            kind=row["kind"],
            account_number=int(row["account_number"]),
            sequence=int(row["sequence"]),
            timeout_height=int(row["timeout_height"]),
            node_origin=row["node_origin"],
            # Decoded again, strictly: the journal is ours, but it sits on a networked machine's disk.
            payload=decode_payload(str(row["payload"]).encode("utf-8")),
            created_at=row["created_at"],
        )

    def request(self, request_id: str) -> StoredRequest | None:
        row = self._db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else self._request(row)

    # ---- broadcasts ----

    @staticmethod
    def _broadcast(row: sqlite3.Row) -> Broadcast:
        return Broadcast(
            tx_hash=row["tx_hash"],
            request_id=row["request_id"],
            raw=row["raw"],
            state=row["state"],
            note=row["note"],
            height=row["height"],
            code=row["code"],
            gas_used=row["gas_used"],
            node_origin=row["node_origin"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def broadcast(self, tx_hash: str) -> Broadcast | None:
        row = self._db.execute("SELECT * FROM broadcasts WHERE tx_hash = ?", (tx_hash,)).fetchone()
        return None if row is None else self._broadcast(row)

    def broadcasts_for(self, accounts: list[tuple[str, str]]) -> list[Broadcast]:
        """Every broadcast of transactions prepared for one of ``accounts`` ((chain id, address) pairs),
        for receipts."""
        found: dict[str, Broadcast] = {}
        for chain_id, address in accounts:
            rows = self._db.execute(
                "SELECT b.* FROM broadcasts b JOIN requests r ON r.id = b.request_id"
                " WHERE r.chain_id = ? AND r.address = ?",
                (chain_id, address),
            ).fetchall()
            for row in rows:
                found[row["tx_hash"]] = self._broadcast(row)
        return sorted(found.values(), key=lambda b: (b.created_at, b.tx_hash))

    def broadcasts_of(self, request_id: str) -> list[Broadcast]:
        rows = self._db.execute(
            "SELECT * FROM broadcasts WHERE request_id = ? ORDER BY created_at", (request_id,)
        ).fetchall()
        return [self._broadcast(row) for row in rows]

    def start_broadcast(self, tx_hash: str, request_id: str, raw: str, node_origin: str) -> Broadcast:
        """Record ``sending`` (insert, or again after a refusal); committed before anything is sent."""
        now = iso_ms(now_utc())
        with self._transaction() as db:
            db.execute(
                "INSERT INTO broadcasts (tx_hash, request_id, raw, state, node_origin, created_at,"
                " updated_at)"
                " VALUES (?, ?, ?, 'sending', ?, ?, ?)"
                " ON CONFLICT (tx_hash) DO UPDATE SET state = 'sending', note = NULL,"
                " node_origin = excluded.node_origin, updated_at = excluded.updated_at",
                (tx_hash, request_id, raw, node_origin, now, now),
            )
            self._log(db, request_id, tx_hash, "sending", {"node": node_origin})
        found = self.broadcast(tx_hash)
        assert found is not None
        return found

    def update_broadcast(
        self,
        tx_hash: str,
        state: str,
        *,
        note: str | None = None,
        height: int | None = None,
        code: int | None = None,
        gas_used: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Broadcast:
        if state not in BROADCAST_STATES:
            raise ValueError(f"unknown broadcast state {state}")
        current = self.broadcast(tx_hash)
        if current is None:
            raise ValueError(f"no broadcast {tx_hash}")
        with self._transaction() as db:
            db.execute(
                "UPDATE broadcasts SET state = ?, note = ?, height = ?, code = ?, gas_used = ?,"
                " updated_at = ? WHERE tx_hash = ?",
                (
                    state,
                    note if note is not None else current.note,
                    height if height is not None else current.height,
                    code if code is not None else current.code,
                    gas_used if gas_used is not None else current.gas_used,
                    iso_ms(now_utc()),
                    tx_hash,
                ),
            )
            logged: dict[str, Any] = dict(detail or {})
            if note:
                logged["note"] = note
            if height is not None:
                logged["height"] = height
            if code is not None:
                logged["code"] = code
            self._log(db, current.request_id, tx_hash, state, logged)
        found = self.broadcast(tx_hash)
        assert found is not None
        return found

    # ---- events ----

    def log(self, request_id: str | None, tx_hash: str | None, event: str, detail: dict[str, Any]) -> None:
        with self._transaction() as db:
            self._log(db, request_id, tx_hash, event, detail)

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        request_id: str | None,
        tx_hash: str | None,
        event: str,
        detail: dict[str, Any],
    ) -> None:
        db.execute(
            "INSERT INTO events (request_id, tx_hash, event, detail, at) VALUES (?, ?, ?, ?, ?)",
            (request_id, tx_hash, event, json.dumps(detail, sort_keys=True), iso_ms(now_utc())),
        )

    def events(self, request_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM events WHERE request_id = ? ORDER BY id", (request_id,)
        ).fetchall()
        return [dict(row) for row in rows]
