"""The cold evidence log, checked by the auditor: every line canonical, every line chained to the last.

The cold side writes it (offline/evidence/log.py): line *n* is canonical JSON with ``seq`` = *n* and
``prev`` = SHA-256 of line *n-1* (64 zeros for the first). This is an independent reading of that format,
so the auditor's tool does not run the cold side's code to check the cold side's record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dydx_airgap.shared.canonical_json import canonical_loads
from dydx_airgap.shared.errors import FormatError, VerificationError

LOG_FORMAT = "dydx-airgap-evidence-log/1"
GENESIS = "0" * 64
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class LogEntry:
    seq: int
    line_sha256: str
    fields: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.fields.get(name)


def read_log_bytes(data: bytes, name: str) -> list[LogEntry]:
    """Parse and verify the chain; any damage is a ``VerificationError`` naming the line."""
    if data and not data.endswith(b"\n"):
        raise VerificationError(f"{name} ends with a partial line: it was truncated or edited")
    entries: list[LogEntry] = []
    previous = GENESIS
    for number, line in enumerate(data.split(b"\n")[:-1] if data else [], start=1):
        try:
            entry = canonical_loads(line, max_bytes=MAX_LINE_BYTES)
        except FormatError as exc:
            raise VerificationError(f"{name} line {number} is damaged: {exc.message}") from None
        if not isinstance(entry, dict) or entry.get("format") != LOG_FORMAT:
            raise VerificationError(f"{name} line {number} is not an evidence-log entry")
        if entry.get("seq") != number or entry.get("prev") != previous:
            raise VerificationError(
                f"{name}: the hash chain breaks at line {number} (edited, removed or reordered)"
            )
        if not isinstance(entry.get("event"), str) or not isinstance(entry.get("time"), str):
            raise VerificationError(f"{name} line {number} lacks its event or time")
        previous = hashlib.sha256(line).hexdigest()
        entries.append(LogEntry(number, previous, entry))
    return entries
