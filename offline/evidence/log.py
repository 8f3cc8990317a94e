"""The cold side's local record of every signature it made: append-only and hash-chained.

Each line is canonical JSON carrying the SHA-256 of the previous line, so a line changed, removed or
reordered later breaks the chain; every append first re-verifies the whole chain and refuses to extend a
broken one. Lines hold what was signed (payload digest and fingerprint, EIP-712 digests), when, for which
address and network, and how the operator confirmed — never a secret. The evidence bundle is built from it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from dydx_airgap.shared import __version__
from dydx_airgap.shared.canonical_json import canonical_dumps, canonical_loads
from dydx_airgap.shared.errors import FormatError, VerificationError
from dydx_airgap.shared.timestamps import iso_ms, now_utc

GENESIS = "0" * 64
LOG_FORMAT = "dydx-airgap-evidence-log/1"
MAX_LOG_BYTES = 64 * 1024 * 1024


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def read_log(path: Path) -> list[dict[str, Any]]:
    """Read and verify the whole chain; a missing file is an empty log."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if len(data) > MAX_LOG_BYTES:
        raise VerificationError(f"evidence log {path} is too large to verify")
    if data and not data.endswith(b"\n"):
        raise VerificationError(f"evidence log {path} ends with a partial line: it was truncated or edited")
    entries: list[dict[str, Any]] = []
    previous = GENESIS
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            entry = canonical_loads(line, max_bytes=1 << 20)
        except FormatError as exc:
            raise VerificationError(f"evidence log {path} line {number} is damaged: {exc.message}") from None
        if not isinstance(entry, dict) or entry.get("format") != LOG_FORMAT:
            raise VerificationError(f"evidence log {path} line {number} is not an evidence entry")
        if entry.get("prev") != previous or entry.get("seq") != number:
            raise VerificationError(f"evidence log {path} chain breaks at line {number}: it was edited")
        previous = _line_hash(line)
        entries.append(entry)
    return entries


def log_head(entry: dict[str, Any]) -> str:
    """The SHA-256 of an entry's line: the head of the log once it is the last line."""
    return _line_hash(canonical_dumps(entry))


def append_entry(path: Path, event: str, fields: dict[str, Any]) -> dict[str, Any]:
    existing = read_log(path)
    previous = GENESIS
    if existing:
        previous = _line_hash(canonical_dumps(existing[-1]))
    entry = {
        "format": LOG_FORMAT,
        "seq": len(existing) + 1,
        "prev": previous,
        "time": iso_ms(now_utc()),
        "event": event,
        "tool_version": __version__,
        **fields,
    }
    line = canonical_dumps(entry) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry
