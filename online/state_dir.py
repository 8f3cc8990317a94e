"""The relay's state directory (journal and credentials): where it is, and one relay at a time in it.

Two relays working on the same journal could both decide a request was never sent; an exclusive lock on
the directory makes the second one stop with a clear message instead.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import make_secret_dir

LOCK_FILE = "relay.lock"


def default_state_dir() -> Path:
    """``$DYDX_RELAY_STATE``, else ``$XDG_STATE_HOME/dydx-airgap/relay`` (``~/.local/state/...``)."""
    explicit = os.environ.get("DYDX_RELAY_STATE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dydx-airgap" / "relay"


@contextmanager
def locked_state_dir(path: Path | None) -> Iterator[Path]:
    """Create the directory 0700 if needed and hold its lock for the duration."""
    directory = make_secret_dir(path or default_state_dir())
    lock_path = directory / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise InputError(f"cannot open {lock_path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InputError(
                f"another relay is working in {directory}; wait for it to finish (or use another --state)"
            ) from exc
        yield directory
    finally:
        os.close(fd)  # closing the descriptor releases the lock
