"""Names, paths and size limits of an evidence bundle.

Paths inside a bundle are short, relative and drawn from a small alphabet, so no name can climb out of the
bundle, hide as a dot-file, collide by case folding tricks on one system only, or need a tar extension.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dydx_airgap.shared.errors import FormatError

BUNDLE_FORMAT = "dydx-airgap-evidence/1"
MANIFEST_SIG_FORMAT = "dydx-airgap-evidence-signature/1"
RECEIPTS_FORMAT = "dydx-airgap-relay-receipts/1"
RECEIPTS_SIG_FORMAT = "dydx-airgap-relay-signature/1"

MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
COLD_DIR = "cold"
RELAY_DIR = "relay"
RECEIPTS = "relay/receipts.json"
RECEIPTS_SIG = "relay/receipts.sig"
TOP_LEVEL_FILES = (MANIFEST, MANIFEST_SIG)
RELAY_FILES = (RECEIPTS, RECEIPTS_SIG)

#: Caps for reading a bundle someone sent us (the evidence log may legitimately reach 64 MiB).
MAX_FILES = 20_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_RECEIPTS_BYTES = 64 * 1024 * 1024
MAX_SIG_FILE_BYTES = 4096
MAX_PATH_BYTES = 100  # fits a ustar name field: no prefix field, no PAX header, one way to write it
#: The canonical archive of a bundle at those limits: each member adds a 512-byte header and at most 511
#: bytes of padding, and two zero blocks end it. A bundle that opens as a directory opens as an archive.
MAX_ARCHIVE_BYTES = MAX_TOTAL_BYTES + MAX_FILES * 2 * 512 + 2 * 512


def limits_problem(files: Mapping[str, bytes]) -> str | None:
    """Why a reader would refuse a bundle of these files as too large, or None: checked before a bundle is
    written, so that no tool writes one that dydx-audit cannot open."""
    total = sum(len(data) for data in files.values())
    largest = max((len(data) for data in files.values()), default=0)
    if len(files) > MAX_FILES or total > MAX_TOTAL_BYTES or largest > MAX_FILE_BYTES:
        return (
            f"it would hold {len(files):,} files, {total / 2**20:.1f} MiB in all, the largest "
            f"{largest / 2**20:.1f} MiB, more than a bundle may ({MAX_FILES:,} files, "
            f"{MAX_TOTAL_BYTES // 2**20} MiB in all, {MAX_FILE_BYTES // 2**20} MiB a file)"
        )
    return None


_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,79}")


def check_bundle_path(path: str) -> str:
    """Accept ``name`` or ``dir/name`` made of [A-Za-z0-9._-] segments; refuse anything else."""
    if not isinstance(path, str) or not path or len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise FormatError(f"bundle path {str(path)[:60]!r} is empty or longer than {MAX_PATH_BYTES} bytes")
    parts = path.split("/")
    if len(parts) > 2 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise FormatError(
            f"bundle path {path[:60]!r} must be 'name' or 'dir/name' with letters, digits, '.', '_', '-' "
            "(no leading dot, no '..', no absolute path)"
        )
    if any(p in (".", "..") or p.endswith(".") for p in parts):
        raise FormatError(f"bundle path {path[:60]!r} has a dot segment")
    return path


def cold_path(name: str) -> str:
    return check_bundle_path(f"{COLD_DIR}/{name}")


def safe_file_name(name: str) -> bool:
    """Whether a file name from a log line can be used as is inside ``cold/``."""
    return bool(_SEGMENT.fullmatch(name)) and not name.endswith(".")
