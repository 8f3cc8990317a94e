"""The online side's SQLite files (relay journal, on-chain journal, local API store): one way to open them.

They hold request history, API credentials' metadata or an operator key, so each is created 0600 (and
tightened if it exists with looser bits), never through a symlink, with foreign keys on and full fsync.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dydx_airgap.shared.errors import InputError


def _create_private_file(path: Path, what: str) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise InputError(f"cannot open {what} {path}: {exc.strerror}") from exc
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def open_private_sqlite(
    path: Path, schema: str, what: str, *, check_same_thread: bool = True
) -> sqlite3.Connection:
    """Open (creating 0600 if needed) a SQLite file in autocommit mode and apply ``schema``."""
    _create_private_file(path, what)
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = FULL")
        connection.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{what} {path} is not a usable SQLite database: {exc}") from exc
    return connection


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (a journal entry is written whole or not)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
