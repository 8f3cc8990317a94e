"""SQLite state of the local API: users, accounts, API keys, the operator key.

One file (``--db``), created with mode 0600 because it holds the operator key and sealed API secrets;
SQLite gives its journal the same mode. Every change that belongs together — onboarding's user, account 0
and default key — is one transaction: the real service was not atomic there (dydx-v3-python #220) and
a rehearsal should not inherit that.

Balances are kept as integers in USDC base units (6 decimals) so an optional chain follower can credit
deposits exactly; ``registered_at`` is set when a ``registerUser`` is seen on-chain. Nothing here speaks
HTTP: failures are the small exception classes below, which the app maps to dYdX responses.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dydx_airgap.online.rehearsal.v3_api.credentials import SealedSecret, seal_secret
from dydx_airgap.online.rehearsal.v3_api.registration import OperatorKey
from dydx_airgap.online.rehearsal.v3_api.stark_point import StarkPublicKey
from dydx_airgap.online.sqlite_file import immediate_transaction, open_private_sqlite
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.dydx_v3.ids import account_id, user_id
from dydx_airgap.shared.secret import Secret

_R = TypeVar("_R")

MAX_API_KEYS_PER_USER = 20
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    address TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    referred_by TEXT,
    country TEXT,
    registered_at TEXT
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL REFERENCES users(address),
    account_number INTEGER NOT NULL,
    stark_key TEXT NOT NULL,
    stark_key_y TEXT NOT NULL,
    position_id INTEGER NOT NULL UNIQUE,
    quote_balance INTEGER NOT NULL DEFAULT 0,
    pending_deposits INTEGER NOT NULL DEFAULT 0,
    pending_withdrawals INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (address, account_number)
);
CREATE INDEX IF NOT EXISTS accounts_by_stark_key ON accounts (stark_key);
-- What PUT /v3/users sets; a table of its own so state files from before it still open unchanged.
CREATE TABLE IF NOT EXISTS user_profiles (
    address TEXT PRIMARY KEY REFERENCES users(address),
    email TEXT,
    username TEXT,
    is_sharing_username INTEGER,
    is_sharing_address INTEGER,
    user_data TEXT NOT NULL DEFAULT '{}',
    language_code TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    key TEXT PRIMARY KEY,
    address TEXT NOT NULL REFERENCES users(address),
    nonce BLOB NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at TEXT NOT NULL
);
"""


class StoreConflict(Exception):
    """The change contradicts existing state; ``reason`` is one of the constants below."""

    USER_EXISTS = "user-exists"
    STARK_KEY_TAKEN = "stark-key-taken"
    API_KEY_LIMIT = "api-key-limit"
    LAST_API_KEY = "last-api-key"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreNotFound(Exception):
    """The user, account or API key does not exist (for this user)."""


@dataclass(frozen=True)
class UserRecord:
    address: str  # lower case, as dYdX stored it
    user_id: str
    created_at: str
    referred_by: str | None
    country: str | None
    registered_at: str | None


@dataclass(frozen=True)
class UserProfile:
    """The user-editable fields of a dYdX user (PUT /v3/users); None where never set."""

    email: str | None = None
    username: str | None = None
    is_sharing_username: bool | None = None
    is_sharing_address: bool | None = None
    user_data: str = "{}"  # a JSON object, as the client sent it
    language_code: str | None = None


#: The columns PUT /v3/users may change, and the users-table column "country" besides them.
PROFILE_FIELDS = (
    "email",
    "username",
    "is_sharing_username",
    "is_sharing_address",
    "user_data",
    "language_code",
)


@dataclass(frozen=True)
class AccountRecord:
    id: str
    address: str
    account_number: int
    stark_key: str  # 64 hex digits, no 0x
    stark_key_y: str
    position_id: int
    quote_balance: int  # USDC base units
    pending_deposits: int
    pending_withdrawals: int
    created_at: str


@dataclass(frozen=True)
class ApiKeyRecord:
    key: str
    address: str
    sealed: SealedSecret


class Store:
    """Thread-safe access to one SQLite file (uvicorn's loop thread and a test thread may share it)."""

    def __init__(self, connection: sqlite3.Connection, operator: OperatorKey) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self.operator = operator

    # ---- opening ----

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        connection = open_private_sqlite(Path(path), _SCHEMA, "the database", check_same_thread=False)
        operator = cls._load_or_create_operator(connection)
        return cls(connection, operator)

    @staticmethod
    def _load_or_create_operator(connection: sqlite3.Connection) -> OperatorKey:
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute("SELECT value FROM meta WHERE name = 'operator_key'").fetchone()
            if row is None:
                operator = OperatorKey.generate()
                connection.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [
                        ("schema_version", SCHEMA_VERSION),
                        ("operator_key", operator.secret_bytes().reveal().hex()),
                        ("next_position_id", "1"),
                    ],
                )
            else:
                operator = OperatorKey(Secret(bytes.fromhex(row["value"])))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return operator

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._db) as db:
            yield db

    @staticmethod
    def _must(record: _R | None) -> _R:
        if record is None:  # only if the row vanished between commit and read: a bug
            raise RuntimeError("a row written in this transaction is missing")
        return record

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # ---- helpers inside transactions ----

    @staticmethod
    def _next_position_id(db: sqlite3.Connection) -> int:
        value = int(db.execute("SELECT value FROM meta WHERE name = 'next_position_id'").fetchone()[0])
        db.execute("UPDATE meta SET value = ? WHERE name = 'next_position_id'", (str(value + 1),))
        return value

    @staticmethod
    def _stark_key_owner(db: sqlite3.Connection, stark_key: str) -> str | None:
        row = db.execute("SELECT address FROM accounts WHERE stark_key = ? LIMIT 1", (stark_key,)).fetchone()
        return None if row is None else str(row["address"])

    @staticmethod
    def _insert_account(
        db: sqlite3.Connection, address: str, number: int, stark: StarkPublicKey, now: str
    ) -> None:
        db.execute(
            "INSERT INTO accounts"
            " (id, address, account_number, stark_key, stark_key_y, position_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                account_id(address, number),
                address,
                number,
                stark.x_hex,
                stark.y_hex,
                Store._next_position_id(db),
                now,
            ),
        )

    @staticmethod
    def _insert_api_key(db: sqlite3.Connection, address: str, credentials: ApiCredentials, now: str) -> None:
        sealed = seal_secret(credentials)
        db.execute(
            "INSERT INTO api_keys (key, address, nonce, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)",
            (credentials.key, address, sealed.nonce, sealed.ciphertext, now),
        )

    # ---- users ----

    def onboard(
        self,
        address: str,
        stark: StarkPublicKey,
        default_key: ApiCredentials,
        *,
        referred_by: str | None,
        country: str | None,
        now: str,
    ) -> tuple[UserRecord, AccountRecord]:
        """Create the user, account 0 and the default API key, all or nothing."""
        address = address.lower()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE address = ?", (address,)).fetchone():
                raise StoreConflict(StoreConflict.USER_EXISTS)
            if self._stark_key_owner(db, stark.x_hex) is not None:
                raise StoreConflict(StoreConflict.STARK_KEY_TAKEN)
            if db.execute("SELECT 1 FROM api_keys WHERE key = ?", (default_key.key,)).fetchone():
                # Only a replayed onboarding signature of another address could collide: refuse.
                raise StoreConflict(StoreConflict.USER_EXISTS)
            db.execute(
                "INSERT INTO users (address, user_id, created_at, referred_by, country)"
                " VALUES (?, ?, ?, ?, ?)",
                (address, user_id(address), now, referred_by, country),
            )
            self._insert_account(db, address, 0, stark, now)
            self._insert_api_key(db, address, default_key, now)
        return self._must(self.get_user(address)), self._must(self.get_account(address, 0))

    def get_user(self, address: str) -> UserRecord | None:
        rows = self._query("SELECT * FROM users WHERE address = ?", (address.lower(),))
        if not rows:
            return None
        r = rows[0]
        return UserRecord(
            address=r["address"],
            user_id=r["user_id"],
            created_at=r["created_at"],
            referred_by=r["referred_by"],
            country=r["country"],
            registered_at=r["registered_at"],
        )

    def get_profile(self, address: str) -> UserProfile:
        rows = self._query("SELECT * FROM user_profiles WHERE address = ?", (address.lower(),))
        if not rows:
            return UserProfile()
        r = rows[0]
        return UserProfile(
            email=r["email"],
            username=r["username"],
            is_sharing_username=None if r["is_sharing_username"] is None else bool(r["is_sharing_username"]),
            is_sharing_address=None if r["is_sharing_address"] is None else bool(r["is_sharing_address"]),
            user_data=r["user_data"],
            language_code=r["language_code"],
        )

    def update_user(self, address: str, changes: dict[str, object], country: str | None) -> None:
        """Set the given profile fields (and the country, when given); fields not named stay as they are."""
        address = address.lower()
        unknown = set(changes) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM users WHERE address = ?", (address,)).fetchone():
                raise StoreNotFound(address)
            db.execute("INSERT OR IGNORE INTO user_profiles (address) VALUES (?)", (address,))
            for column, value in changes.items():  # column names come from PROFILE_FIELDS only
                db.execute(f"UPDATE user_profiles SET {column} = ? WHERE address = ?", (value, address))  # noqa: S608
            if country is not None:
                db.execute("UPDATE users SET country = ? WHERE address = ?", (country, address))

    # ---- accounts ----

    @staticmethod
    def _account(row: sqlite3.Row) -> AccountRecord:
        return AccountRecord(
            id=row["id"],
            address=row["address"],
            account_number=int(row["account_number"]),
            stark_key=row["stark_key"],
            stark_key_y=row["stark_key_y"],
            position_id=int(row["position_id"]),
            quote_balance=int(row["quote_balance"]),
            pending_deposits=int(row["pending_deposits"]),
            pending_withdrawals=int(row["pending_withdrawals"]),
            created_at=row["created_at"],
        )

    def create_account(self, address: str, stark: StarkPublicKey, now: str) -> AccountRecord:
        """Next account number for the user. A STARK key may be reused by its owner, never by another."""
        address = address.lower()
        with self._transaction() as db:
            owner = self._stark_key_owner(db, stark.x_hex)
            if owner is not None and owner != address:
                raise StoreConflict(StoreConflict.STARK_KEY_TAKEN)
            row = db.execute(
                "SELECT COALESCE(MAX(account_number), -1) + 1 FROM accounts WHERE address = ?", (address,)
            ).fetchone()
            number = int(row[0])
            self._insert_account(db, address, number, stark, now)
        return self._must(self.get_account(address, number))

    def get_account(self, address: str, number: int) -> AccountRecord | None:
        rows = self._query(
            "SELECT * FROM accounts WHERE address = ? AND account_number = ?", (address.lower(), number)
        )
        return self._account(rows[0]) if rows else None

    def get_account_by_id(self, address: str, account_id_: str) -> AccountRecord | None:
        rows = self._query(
            "SELECT * FROM accounts WHERE address = ? AND id = ?", (address.lower(), account_id_)
        )
        return self._account(rows[0]) if rows else None

    def list_accounts(self, address: str) -> list[AccountRecord]:
        rows = self._query(
            "SELECT * FROM accounts WHERE address = ? ORDER BY account_number", (address.lower(),)
        )
        return [self._account(r) for r in rows]

    # ---- on-chain events (chain follower) ----

    def chain_cursor(self, name: str) -> int | None:
        """The next block the chain follower named ``name`` has to read, if it has read any."""
        rows = self._query("SELECT value FROM meta WHERE name = ?", ("chain_cursor:" + name,))
        return int(rows[0]["value"]) if rows else None

    def apply_chain_events(
        self,
        cursor_name: str,
        next_block: int,
        registrations: list[tuple[str, int]],
        deposits: list[tuple[int, int, int]],
        when: str,
    ) -> None:
        """Record ``registerUser`` (address, starkKey) and deposit (starkKey, vaultId, base units) events
        read up to ``next_block``, and move the cursor, in one transaction: never counted twice.

        A registration counts only for a known user owning that STARK key; a deposit only for the account
        whose position id is the vault and whose STARK key is the depositor's key (StarkEx's rule).
        """
        with self._transaction() as db:
            for address, stark_key in registrations:
                db.execute(
                    "UPDATE users SET registered_at = COALESCE(registered_at, ?) WHERE address = ?"
                    " AND EXISTS (SELECT 1 FROM accounts WHERE accounts.address = users.address"
                    " AND accounts.stark_key = ?)",
                    (when, address.lower(), f"{stark_key:064x}"),
                )
            for stark_key, vault_id, units in deposits:
                db.execute(
                    "UPDATE accounts SET quote_balance = quote_balance + ?"
                    " WHERE position_id = ? AND stark_key = ?",
                    (units, vault_id, f"{stark_key:064x}"),
                )
            db.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                ("chain_cursor:" + cursor_name, str(next_block)),
            )

    # ---- API keys ----

    def add_api_key(self, address: str, credentials: ApiCredentials, now: str) -> None:
        address = address.lower()
        with self._transaction() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM api_keys WHERE address = ?", (address,)).fetchone()
            if count >= MAX_API_KEYS_PER_USER:
                raise StoreConflict(StoreConflict.API_KEY_LIMIT)
            self._insert_api_key(db, address, credentials, now)

    def list_api_keys(self, address: str) -> list[str]:
        rows = self._query("SELECT key FROM api_keys WHERE address = ? ORDER BY rowid", (address.lower(),))
        return [str(r["key"]) for r in rows]

    def find_api_key(self, key: str) -> ApiKeyRecord | None:
        rows = self._query("SELECT * FROM api_keys WHERE key = ?", (key,))
        if not rows:
            return None
        r = rows[0]
        return ApiKeyRecord(
            key=r["key"],
            address=r["address"],
            sealed=SealedSecret(nonce=bytes(r["nonce"]), ciphertext=bytes(r["sealed_secret"])),
        )

    def delete_api_key(self, address: str, key: str) -> None:
        address = address.lower()
        with self._transaction() as db:
            if not db.execute(
                "SELECT 1 FROM api_keys WHERE key = ? AND address = ?", (key, address)
            ).fetchone():
                raise StoreNotFound(key)
            (count,) = db.execute("SELECT COUNT(*) FROM api_keys WHERE address = ?", (address,)).fetchone()
            if count <= 1:
                raise StoreConflict(StoreConflict.LAST_API_KEY)
            db.execute("DELETE FROM api_keys WHERE key = ?", (key,))
