"""The on-chain journal: every prepared ``tx-request`` and every broadcast, in the relay's state directory.

One SQLite file (``onchain-journal.sqlite3``, mode 0600 from creation), next to the API journal. It holds
only public material: request payloads (what the cold side was asked to sign) and signed raw transactions
(which become public the moment they are broadcast). RPC URLs are recorded as origins only.

* ``tx_requests`` — id, SHA-256 of the payload bytes, and the payload itself: ``broadcast`` accepts a
  ``signed-tx`` only if it answers a request found here with the same SHA-256.
* ``broadcasts`` — keyed by transaction hash, written as ``sending`` and committed *before* the bytes leave,
  so a crash mid-send is settled next time by asking the node for that hash, never by a blind resend.
  States: ``sending`` (may be in flight), ``pending`` (a node accepted it), ``mined``, ``reverted``,
  ``refused`` (a node refused it: sending again is allowed).
* ``events`` — an append-only log of what happened, for the operator and the auditor.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dydx_airgap.online.sqlite_file import immediate_transaction, open_private_sqlite
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload, decode_payload

JOURNAL_FILE = "onchain-journal.sqlite3"
BROADCAST_STATES = ("sending", "pending", "mined", "reverted", "refused")
#: States in which a transaction hash may be (or is) on chain: its request's nonce is taken.
LIVE_STATES = ("sending", "pending", "mined", "reverted")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tx_requests (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    network_id INTEGER NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    max_cost_wei TEXT NOT NULL,
    expires TEXT,
    rpc_origin TEXT NOT NULL,
    api_origin TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS broadcasts (
    tx_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES tx_requests(id),
    raw TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in BROADCAST_STATES)})),
    note TEXT,
    block_number INTEGER,
    gas_used INTEGER,
    rpc_origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS broadcasts_by_request ON broadcasts (request_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    request_id TEXT,
    tx_hash TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


def step_request_id(payload_id: str, index: int) -> str:
    return f"{payload_id}.{index}"


@dataclass(frozen=True)
class StoredRequest:
    id: str
    sha256: str
    network_id: int
    address: str
    action: str
    nonce: int
    max_cost_wei: int
    expires: str | None
    rpc_origin: str
    api_origin: str
    payload: Payload
    created_at: str


@dataclass(frozen=True)
class Broadcast:
    tx_hash: str
    request_id: str
    raw: str
    state: str
    note: str | None
    block_number: int | None
    gas_used: int | None
    rpc_origin: str
    created_at: str
    updated_at: str


class TxJournal:
    """Callers hold the state directory's lock (see ``online.relay.state_dir.locked_state_dir``)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> TxJournal:
        path = state_dir / JOURNAL_FILE
        return cls(open_private_sqlite(path, _SCHEMA, "the on-chain journal"), path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TxJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    # ---- requests ----

    def add_request(
        self, payload: Payload, *, nonce: int, max_cost_wei: int, rpc_origin: str, api_origin: str
    ) -> StoredRequest:
        data = payload.to_bytes()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tx_requests (id, sha256, network_id, address, action, nonce, max_cost_wei,"
                " expires, rpc_origin, api_origin, payload, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payload.id,
                    payload.digest.hex(),
                    payload.network_id,
                    payload.address,
                    payload.body["action"],
                    nonce,
                    str(max_cost_wei),
                    payload.expires,
                    rpc_origin,
                    api_origin,
                    data.decode("utf-8"),
                    iso_ms(now_utc()),
                ),
            )
            self._log(db, payload.id, None, "prepared", {"nonce": nonce, "sha256": payload.digest.hex()})
        request = self.request(payload.id)
        assert request is not None
        return request

    def add_step_requests(
        self, payload: Payload, steps: list[tuple[str, int, int]], *, rpc_origin: str
    ) -> list[StoredRequest]:
        """One request payload asking for several transactions (the escape hatch): a row per transaction,
        ``<payload id>.<index>``, each with its action, nonce and maximum cost, so nonces stay reserved and
        every transaction is broadcast once like any other request's."""
        data = payload.to_bytes().decode("utf-8")
        ids = [step_request_id(payload.id, index) for index in range(len(steps))]
        with self._transaction() as db:
            for request_id, (action, nonce, max_cost_wei) in zip(ids, steps, strict=True):
                db.execute(
                    "INSERT INTO tx_requests (id, sha256, network_id, address, action, nonce, max_cost_wei,"
                    " expires, rpc_origin, api_origin, payload, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request_id,
                        f"{payload.digest.hex()}:{request_id}",
                        payload.network_id,
                        payload.address,
                        action,
                        nonce,
                        str(max_cost_wei),
                        payload.expires,
                        rpc_origin,
                        "",
                        data,
                        iso_ms(now_utc()),
                    ),
                )
                self._log(db, request_id, None, "prepared", {"nonce": nonce, "sha256": payload.digest.hex()})
        found = [self.request(request_id) for request_id in ids]
        return [request for request in found if request is not None]

    def forget_request(self, request_id: str) -> None:
        """Remove a request that never left the relay (its file could not be written)."""
        with self._transaction() as db:
            db.execute("DELETE FROM events WHERE request_id = ?", (request_id,))
            db.execute("DELETE FROM tx_requests WHERE id = ?", (request_id,))

    @staticmethod
    def _request(row: sqlite3.Row) -> StoredRequest:
        return StoredRequest(
            id=row["id"],
            sha256=row["sha256"],
            network_id=int(row["network_id"]),
            address=row["address"],
            action=row["action"],
            nonce=int(row["nonce"]),
            max_cost_wei=int(row["max_cost_wei"]),
            expires=row["expires"],
            rpc_origin=row["rpc_origin"],
            api_origin=row["api_origin"],
            # Decoded again, strictly: the journal file is ours, but it sits on a networked disk.
            payload=decode_payload(str(row["payload"]).encode("utf-8")),
            created_at=row["created_at"],
        )

    def request(self, request_id: str) -> StoredRequest | None:
        row = self._db.execute("SELECT * FROM tx_requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else self._request(row)

    def outstanding(
        self, network_id: int, address: str, min_nonce: int, now: datetime
    ) -> list[StoredRequest]:
        """Unexpired requests of ``address`` at nonces ≥ ``min_nonce`` that no node has accepted yet.

        They will (probably) be signed and broadcast, so a new request must not take their nonces.
        """
        rows = self._db.execute(
            "SELECT * FROM tx_requests r WHERE network_id = ? AND lower(address) = lower(?) AND nonce >= ?"
            " AND NOT EXISTS (SELECT 1 FROM broadcasts b WHERE b.request_id = r.id"
            " AND b.state IN ('sending', 'pending', 'mined', 'reverted'))"  # = LIVE_STATES
            " ORDER BY nonce, created_at",
            (network_id, address, min_nonce),
        ).fetchall()
        requests = [self._request(row) for row in rows]
        return [r for r in requests if not r.payload.is_expired(now)]

    def requests_at_nonce(self, network_id: int, address: str, nonce: int) -> list[StoredRequest]:
        rows = self._db.execute(
            "SELECT * FROM tx_requests WHERE network_id = ? AND lower(address) = lower(?) AND nonce = ?"
            " ORDER BY created_at",
            (network_id, address, nonce),
        ).fetchall()
        return [self._request(row) for row in rows]

    # ---- broadcasts ----

    @staticmethod
    def _broadcast(row: sqlite3.Row) -> Broadcast:
        return Broadcast(
            tx_hash=row["tx_hash"],
            request_id=row["request_id"],
            raw=row["raw"],
            state=row["state"],
            note=row["note"],
            block_number=row["block_number"],
            gas_used=row["gas_used"],
            rpc_origin=row["rpc_origin"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def broadcast(self, tx_hash: str) -> Broadcast | None:
        row = self._db.execute("SELECT * FROM broadcasts WHERE tx_hash = ?", (tx_hash,)).fetchone()
        return None if row is None else self._broadcast(row)

    def broadcasts_for(self, network_id: int, address: str) -> list[Broadcast]:
        """Every broadcast of transactions prepared for ``address`` on ``network_id`` (for receipts)."""
        rows = self._db.execute(
            "SELECT b.* FROM broadcasts b JOIN tx_requests r ON r.id = b.request_id"
            " WHERE r.network_id = ? AND lower(r.address) = lower(?) ORDER BY b.created_at, b.tx_hash",
            (network_id, address),
        ).fetchall()
        return [self._broadcast(row) for row in rows]

    def broadcasts_of(self, request_id: str) -> list[Broadcast]:
        rows = self._db.execute(
            "SELECT * FROM broadcasts WHERE request_id = ? ORDER BY created_at", (request_id,)
        ).fetchall()
        return [self._broadcast(row) for row in rows]

    def start_broadcast(self, tx_hash: str, request_id: str, raw: str, rpc_origin: str) -> Broadcast:
        """Record ``sending`` (insert, or a retry of a refused one); committed before anything is sent."""
        now = iso_ms(now_utc())
        with self._transaction() as db:
            db.execute(
                "INSERT INTO broadcasts (tx_hash, request_id, raw, state, rpc_origin, created_at, updated_at)"
                " VALUES (?, ?, ?, 'sending', ?, ?, ?)"
                " ON CONFLICT (tx_hash) DO UPDATE SET state = 'sending', note = NULL,"
                " rpc_origin = excluded.rpc_origin, updated_at = excluded.updated_at",
                (tx_hash, request_id, raw, rpc_origin, now, now),
            )
            self._log(db, request_id, tx_hash, "sending", {"rpc": rpc_origin})
        found = self.broadcast(tx_hash)
        assert found is not None
        return found

    def update_broadcast(
        self,
        tx_hash: str,
        state: str,
        *,
        note: str | None = None,
        block_number: int | None = None,
        gas_used: int | None = None,
    ) -> Broadcast:
        if state not in BROADCAST_STATES:
            raise ValueError(f"unknown broadcast state {state}")
        current = self.broadcast(tx_hash)
        if current is None:
            raise ValueError(f"no broadcast {tx_hash}")
        with self._transaction() as db:
            db.execute(
                "UPDATE broadcasts SET state = ?, note = ?, block_number = ?, gas_used = ?, updated_at = ?"
                " WHERE tx_hash = ?",
                (
                    state,
                    note if note is not None else current.note,
                    block_number if block_number is not None else current.block_number,
                    gas_used if gas_used is not None else current.gas_used,
                    iso_ms(now_utc()),
                    tx_hash,
                ),
            )
            detail: dict[str, Any] = {"note": note} if note else {}
            if block_number is not None:
                detail["block"] = block_number
            self._log(db, current.request_id, tx_hash, state, detail)
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
