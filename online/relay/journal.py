"""The relay's journal: what it submitted, every exchange with the API, and where each submission stands.

One SQLite file in the state directory, mode 0600 from creation. A submission is written as ``sending``
(and committed) *before* its request leaves, so a crash mid-request is found on the next run and settled by
asking the server, never by blindly resending. States:

* ``sending`` — a request may be in flight (or the relay died while it was);
* ``accepted`` — the server took it (from its answer, or shown later by a status query);
* ``rejected`` — the server refused it, or it never got through; sending it again is allowed;
* ``ambiguous`` — it may have taken effect and the relay could not find out; the next run asks first.

Idempotency: a submission is found by any of its *request keys* (payload digest and signatures, see
:meth:`CheckedRequest.request_keys`), so an accepted request is never sent twice, even re-wrapped.

Secrets never enter the journal: only allow-listed request headers are stored, and response bodies pass
through :func:`redact` (API secrets and passphrases replaced) first.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.online.relay.api_client import Attempt
from dydx_airgap.online.sqlite_file import immediate_transaction, open_private_sqlite
from dydx_airgap.shared.canonical_json import check_unicode_text
from dydx_airgap.shared.errors import FormatError, InputError, PolicyError
from dydx_airgap.shared.timestamps import iso_ms, now_utc

JOURNAL_FILE = "journal.sqlite3"
STATES = ("sending", "accepted", "rejected", "ambiguous")
REDACTED = "<redacted>"
#: JSON member names whose values are secrets wherever they appear in an API answer.
SECRET_NAMES = frozenset({"secret", "passphrase", "privatekey", "private_key", "signature"})
_MAX_STORED_BODY = 16 * 1024

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    payload_digest TEXT NOT NULL,
    payload_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    network_id INTEGER NOT NULL,
    address TEXT NOT NULL,
    api_origin TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    note TEXT,
    result TEXT NOT NULL DEFAULT '{{}}',
    context TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS request_keys (
    key TEXT PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id)
);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER REFERENCES submissions(id),
    purpose TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status INTEGER,
    response_body TEXT,
    failure TEXT,
    may_have_taken_effect INTEGER NOT NULL
);
"""


def redact(value: Any) -> Any:
    """A copy of JSON data with every secret-named member replaced by ``<redacted>``."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in SECRET_NAMES else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redacted_body_text(body: bytes) -> str:
    """A response body fit for the journal: JSON redacted; anything else kept only as its size."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return f"<{len(body)} bytes, not JSON>"
    try:
        check_unicode_text(data)
        ascii_only = False
    except FormatError:
        ascii_only = True  # lone surrogates: kept as their \u escapes, which SQLite's UTF-8 can store
    text = json.dumps(redact(data), separators=(",", ":"), ensure_ascii=ascii_only)
    return text if len(text) <= _MAX_STORED_BODY else text[:_MAX_STORED_BODY] + "…"


@dataclass(frozen=True)
class Submission:
    id: int
    payload_digest: str
    payload_id: str
    kind: str
    action: str
    network_id: int
    address: str
    api_origin: str
    state: str
    note: str | None
    result: dict[str, Any]
    context: dict[str, Any]
    created_at: str
    updated_at: str


class Journal:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        path = state_dir / JOURNAL_FILE
        return cls(open_private_sqlite(path, _SCHEMA, "the journal"), path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    @staticmethod
    def _submission(row: sqlite3.Row) -> Submission:
        return Submission(
            id=int(row["id"]),
            payload_digest=row["payload_digest"],
            payload_id=row["payload_id"],
            kind=row["kind"],
            action=row["action"],
            network_id=int(row["network_id"]),
            address=row["address"],
            api_origin=row["api_origin"],
            state=row["state"],
            note=row["note"],
            result=json.loads(row["result"]),
            context=json.loads(row["context"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def get(self, submission_id: int) -> Submission:
        row = self._db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None:
            raise InputError(f"journal entry {submission_id} does not exist")
        return self._submission(row)

    def find(self, keys: Iterable[str]) -> Submission | None:
        """The submission any of ``keys`` belongs to; two different ones is a forged mix of requests."""
        keys = list(keys)
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"SELECT DISTINCT submission_id FROM request_keys WHERE key IN ({marks})",  # noqa: S608 - only marks
            keys,
        ).fetchall()
        ids = sorted(int(r[0]) for r in rows)
        if len(ids) > 1:
            raise PolicyError(
                f"this payload shares signed requests with {len(ids)} earlier submissions "
                f"(journal entries {', '.join(map(str, ids))}); refusing to guess which one it repeats"
            )
        return self.get(ids[0]) if ids else None

    def start(
        self,
        *,
        keys: Iterable[str],
        payload_digest: str,
        payload_id: str,
        kind: str,
        action: str,
        network_id: int,
        address: str,
        api_origin: str,
        context: dict[str, Any] | None = None,
    ) -> Submission:
        """Record a new submission as ``sending``; committed before anything is sent."""
        now = iso_ms(now_utc())
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO submissions (payload_digest, payload_id, kind, action, network_id, address,"
                " api_origin, state, context, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?)",
                (
                    payload_digest,
                    payload_id,
                    kind,
                    action,
                    network_id,
                    address,
                    api_origin,
                    json.dumps(context or {}),
                    now,
                    now,
                ),
            )
            submission_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT OR IGNORE INTO request_keys (key, submission_id) VALUES (?, ?)",
                [(k, submission_id) for k in keys],
            )
        return self.get(submission_id)

    def add_keys(self, submission_id: int, keys: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO request_keys (key, submission_id) VALUES (?, ?)",
                [(k, submission_id) for k in keys],
            )

    def update(
        self,
        submission_id: int,
        *,
        state: str | None = None,
        note: str | None = None,
        result: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Submission:
        """Change state / note / result / context (context is merged key by key)."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown journal state {state}")
        with self._transaction() as db:
            row = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
            current = self._submission(row)
            merged = {**current.context, **(context or {})}
            db.execute(
                "UPDATE submissions SET state = ?, note = ?, result = ?, context = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    state or current.state,
                    note if note is not None else current.note,
                    json.dumps(redact(result)) if result is not None else json.dumps(current.result),
                    json.dumps(merged),
                    iso_ms(now_utc()),
                    submission_id,
                ),
            )
        return self.get(submission_id)

    def record(
        self,
        submission_id: int | None,
        purpose: str,
        attempt: Attempt,
        *,
        scrub: Callable[[str], str] = str,
    ) -> int:
        """Store one exchange: allow-listed headers, request body, redacted answer, or the failure.

        ``scrub`` removes known secrets from the answer text (a hostile server could echo one back).
        """
        request = attempt.request
        response = attempt.response
        cursor = self._db.execute(
            "INSERT INTO exchanges (submission_id, purpose, attempt, method, path, request_headers,"
            " request_body, started_at, finished_at, status, response_body, failure, may_have_taken_effect)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                submission_id,
                purpose,
                attempt.number,
                request.method,
                request.path,
                json.dumps(request.recordable_headers(), sort_keys=True),
                request.body.decode("utf-8", "replace") if request.body is not None else None,
                iso_ms(attempt.started),
                iso_ms(attempt.finished),
                response.status if response is not None else None,
                scrub(redacted_body_text(response.body)) if response is not None else None,
                attempt.failure,
                int(attempt.may_have_taken_effect),
            ),
        )
        return int(cursor.lastrowid or 0)

    def attach(self, submission_id: int, exchange_ids: Iterable[int]) -> None:
        """Link exchanges made before the submission was recorded (clock, key list) to it."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE exchanges SET submission_id = ? WHERE id = ? AND submission_id IS NULL",
                [(submission_id, i) for i in exchange_ids],
            )

    def exchanges(self, submission_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM exchanges WHERE submission_id = ? ORDER BY id", (submission_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def submissions(self) -> list[Submission]:
        return [self._submission(r) for r in self._db.execute("SELECT * FROM submissions ORDER BY id")]
