"""Reading a bundle — a directory or its ``.tar`` — into memory, safely, once.

Every check then works on these bytes only (what was hashed is what was parsed). Problems found while
reading (a symbolic link, a device, a bad name, a damaged archive) are collected and reported as failed
checks naming the file, rather than stopping at the first.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dydx_airgap.shared.errors import InputError, PolicyError
from dydx_airgap.shared.evidence.archive import canonical_difference, pack_archive, read_archive
from dydx_airgap.shared.evidence.layout import (
    MAX_ARCHIVE_BYTES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    check_bundle_path,
    limits_problem,
)
from dydx_airgap.shared.fsutil import atomic_write_bytes, atomic_write_many, make_dirs, read_untrusted_file
from dydx_airgap.shared.transport.secrecy import bytes_carry_secret_seed


@dataclass
class BundleFiles:
    """A bundle in memory: {relative path: bytes}, and what was wrong with the container itself."""

    source: str
    files: dict[str, bytes]
    problems: list[tuple[str, str]] = field(default_factory=list)
    archive_name: str | None = None  # set when read from a .tar


def _walk(root: Path, relative: str, depth: int, found: BundleFiles, total: list[int]) -> None:
    try:
        entries = sorted(os.scandir(root / relative if relative else root), key=lambda e: e.name)
    except OSError as exc:
        found.problems.append((relative or ".", f"cannot be listed: {exc.strerror}"))
        return
    for entry in entries:
        path = f"{relative}/{entry.name}" if relative else entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            found.problems.append((path, "is a symbolic link: bundles hold regular files only"))
        elif stat.S_ISDIR(st.st_mode):
            if depth >= 1:
                found.problems.append((path, "is a directory nested too deep"))
            else:
                _walk(root, path, depth + 1, found, total)
        elif not stat.S_ISREG(st.st_mode):
            found.problems.append((path, "is not a regular file (device, FIFO or socket)"))
        elif len(found.files) >= MAX_FILES:
            found.problems.append((path, f"is beyond the limit of {MAX_FILES} files"))
            return
        else:
            try:
                check_bundle_path(path)
                data = read_untrusted_file(root / path, cap=MAX_FILE_BYTES)
            except InputError as exc:
                found.problems.append((path, exc.message))
                continue
            total[0] += len(data)
            if total[0] > MAX_TOTAL_BYTES:
                found.problems.append((path, f"takes the bundle over {MAX_TOTAL_BYTES} bytes"))
                return
            found.files[path] = data


def load_bundle(path: str | os.PathLike[str]) -> BundleFiles:
    """Read a bundle directory or archive; an unreadable or missing path is an ``InputError``."""
    p = Path(path)
    if p.is_symlink():
        raise InputError(f"{p} is a symbolic link: pass the bundle itself")
    if p.is_dir():
        found = BundleFiles(source=str(p), files={})
        _walk(p, "", 0, found, [0])
        return found
    if not p.exists():
        raise InputError(f"{p}: no such bundle directory or archive")
    data = read_untrusted_file(p, cap=MAX_ARCHIVE_BYTES)
    return bundle_from_archive(data, p.name, str(p))


def bundle_from_archive(data: bytes, name: str, source: str | None = None) -> BundleFiles:
    contents = read_archive(data)
    found = BundleFiles(source=source or name, files=contents.files, archive_name=name)
    found.problems.extend(
        (name if member == "archive" else f"{name}: {member}", message)
        for member, message in contents.problems
    )
    if not contents.problems:
        difference = canonical_difference(data, contents)
        if difference is not None:
            found.problems.append((name, difference))
    return found


def require_openable(files: Mapping[str, bytes]) -> None:
    """Refuse, before anything is written, a bundle that load_bundle (and so dydx-audit) would refuse as
    too large."""
    problem = limits_problem(files)
    if problem is not None:
        raise PolicyError(
            f"this bundle cannot be written: {problem}; nothing was written. Bundle the evidence in parts "
            "(start a new evidence log for each period)"
        )


def write_bundle_dir(directory: Path, files: dict[str, bytes]) -> None:
    """Write bundle files under ``directory`` (created if needed): 0644 files and 0755 dirs, except that a
    payload carrying a derivation seed (the onboarding request) is 0600 (see transport/secrecy.py)."""
    require_openable(files)
    by_mode: dict[int, list[tuple[Path, bytes]]] = {0o600: [], 0o644: []}
    for path in sorted(files):
        check_bundle_path(path)
        target = directory / path
        by_mode[0o600 if bytes_carry_secret_seed(files[path]) else 0o644].append((target, files[path]))
    for parent in sorted({target.parent for batch in by_mode.values() for target, _ in batch}):
        make_dirs(parent, 0o755)
    # One batch per mode (fsutil.atomic_write_many): each file whole, old or new, after a crash, at the cost
    # of one flush for the batch rather than an fsync per file and per directory.
    for mode, batch in by_mode.items():
        if batch:
            atomic_write_many(batch, mode)


def write_bundle_archive(target: Path, files: dict[str, bytes]) -> bytes:
    """The archive is 0600 when any member carries a derivation seed."""
    require_openable(files)
    data = pack_archive(files)
    secret = any(bytes_carry_secret_seed(content) for content in files.values())
    atomic_write_bytes(target, data, 0o600 if secret else 0o644)
    return data
