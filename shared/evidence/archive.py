"""The bundle as one file: a deterministic ustar archive, and a strict reader for it.

Deterministic means one byte string per bundle: members sorted by name under one top directory named after
the manifest's digest, regular files only, mode 0644, uid/gid 0, no user or group names, a fixed mtime,
no directory entries, no PAX or GNU extensions, and two zero blocks at the end. The header is written here
rather than by :mod:`tarfile`, whose output may change between Python versions; any POSIX ``tar`` reads it.

Reading never touches the disk: members are parsed in memory, and anything but a regular file with a plain
relative name (links, devices, directories, absolute or ``..`` paths, duplicates, oversize) is refused.
Because the format is deterministic, the reader can prove an archive is untouched by writing it again from
what it read and comparing bytes: every flipped bit, even in padding, changes that comparison.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.evidence.layout import (
    MANIFEST,
    MAX_ARCHIVE_BYTES,
    MAX_FILE_BYTES,
    MAX_FILES,
    check_bundle_path,
)

BLOCK = 512
#: 1980-01-01T00:00:00Z, the usual fixed time of reproducible archives (zip's epoch).
FIXED_MTIME = 315_532_800
FILE_MODE = 0o644
TOP_PREFIX = "dydx-evidence-"
_ZERO_BLOCK = bytes(BLOCK)


def top_directory(manifest: bytes | None) -> str:
    """``dydx-evidence-<first 8 hex digits of the manifest's SHA-256>``: unique per bundle, derived."""
    if manifest is None:
        return TOP_PREFIX.rstrip("-")
    return TOP_PREFIX + hashlib.sha256(manifest).hexdigest()[:8]


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode("ascii") + b"\0"


def _field(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width:
        raise FormatError(f"archive name {text[:60]!r} is too long for a ustar header")
    return raw + bytes(width - len(raw))


def _header(name: str, size: int) -> bytes:
    head = (
        _field(name, 100)
        + _octal(FILE_MODE, 8)
        + _octal(0, 8)  # uid
        + _octal(0, 8)  # gid
        + _octal(size, 12)
        + _octal(FIXED_MTIME, 12)
        + b" " * 8  # checksum placeholder, counted as spaces
        + b"0"  # regular file
        + bytes(100)  # link name
        + b"ustar\x0000"
        + bytes(32)  # user name
        + bytes(32)  # group name
        + _octal(0, 8)  # device major
        + _octal(0, 8)  # device minor
        + bytes(155)  # prefix: unused, names fit in 100 bytes
        + bytes(12)
    )
    checksum = f"{sum(head):06o}".encode("ascii") + b"\0 "
    return head[:148] + checksum + head[156:]


@dataclass(frozen=True)
class MemberSpan:
    """Where one member sits in the canonical archive (for naming the member a damaged byte is in)."""

    path: str
    header_offset: int
    data_offset: int
    end: int


def pack_archive(files: Mapping[str, bytes]) -> bytes:
    """The canonical archive of a bundle given as {relative path: bytes}."""
    return _pack(files)[0]


def _pack(files: Mapping[str, bytes]) -> tuple[bytes, list[MemberSpan]]:
    top = top_directory(files.get(MANIFEST))
    out = bytearray()
    spans: list[MemberSpan] = []
    for path in sorted(files):
        check_bundle_path(path)
        data = files[path]
        start = len(out)
        out += _header(f"{top}/{path}", len(data))
        out += data
        out += bytes(-len(data) % BLOCK)
        spans.append(MemberSpan(path, start, start + BLOCK, len(out)))
    out += _ZERO_BLOCK * 2
    return bytes(out), spans


@dataclass
class ArchiveContents:
    top: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (member or "archive", message)


def _parse_octal(raw: bytes, what: str) -> int:
    text = raw.rstrip(b"\0 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        raise FormatError(f"{what} is not an octal number")
    return int(text, 8)


def _name(raw: bytes) -> str:
    end = raw.find(b"\0")
    name = raw if end < 0 else raw[:end]
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("a member name is not ASCII") from None


def read_archive(data: bytes) -> ArchiveContents:
    """Parse an archive in memory; problems are collected (never raised) so verify can name them all."""
    contents = ArchiveContents(top=None)
    if len(data) > MAX_ARCHIVE_BYTES:
        contents.problems.append(("archive", f"is {len(data)} bytes, more than {MAX_ARCHIVE_BYTES}"))
        return contents
    offset = 0
    last = "the start"
    while True:
        if offset + BLOCK > len(data):
            contents.problems.append(("archive", f"ends inside a header after {last} (truncated)"))
            return contents
        block = data[offset : offset + BLOCK]
        if block == _ZERO_BLOCK:
            return contents
        try:
            path, size = _member(block, contents)
        except FormatError as exc:
            contents.problems.append(("archive", f"header at byte {offset} (after {last}): {exc.message}"))
            return contents
        start = offset + BLOCK
        if size > MAX_FILE_BYTES or start + size > len(data):
            contents.problems.append(("archive", f"the member after {last} is oversize or truncated"))
            return contents
        if path is not None:
            if path in contents.files:
                contents.problems.append((path, "appears twice in the archive"))
            elif len(contents.files) >= MAX_FILES:
                contents.problems.append(("archive", f"has more than {MAX_FILES} members"))
                return contents
            else:
                contents.files[path] = data[start : start + size]
            last = path
        offset = start + size + (-size % BLOCK)


def _member(block: bytes, contents: ArchiveContents) -> tuple[str | None, int]:
    """(relative path or None if refused, data size) of one header block."""
    stored = _parse_octal(block[148:156], "the header checksum")
    if stored != sum(block[:148]) + 8 * 0x20 + sum(block[156:]):
        raise FormatError("header checksum does not match (damaged header)")
    name = _name(block[:100])
    if block[345:500].strip(b"\0"):
        raise FormatError(f"member {name[:60]!r} uses the ustar prefix field (not written by this tool)")
    size = _parse_octal(block[124:136], f"size of {name[:60]!r}")
    kind = block[156:157]
    if kind not in (b"0", b"\0"):
        what = {b"1": "a hard link", b"2": "a symbolic link", b"5": "a directory"}.get(kind, "not a file")
        contents.problems.append((name[:80] or "archive", f"is {what}: only regular files are accepted"))
        return None, 0 if kind in (b"1", b"2", b"5") else size
    top, slash, inner = name.partition("/")
    if not slash or not top.startswith(TOP_PREFIX.rstrip("-")):
        contents.problems.append((name[:80], "is not inside the bundle's dydx-evidence-* directory"))
        return None, size
    if contents.top is None:
        contents.top = top
    elif top != contents.top:
        contents.problems.append((name[:80], f"is outside the archive's top directory {contents.top}"))
        return None, size
    try:
        check_bundle_path(inner)
    except FormatError as exc:
        contents.problems.append((name[:80], exc.message))
        return None, size
    return inner, size


def canonical_difference(data: bytes, contents: ArchiveContents) -> str | None:
    """None if ``data`` is exactly the canonical archive of what was read; else where it differs."""
    expected, spans = _pack(contents.files)
    if contents.top is not None and contents.top != top_directory(contents.files.get(MANIFEST)):
        return (
            f"its top directory {contents.top} is not {top_directory(contents.files.get(MANIFEST))} "
            "(named after the manifest's digest)"
        )
    if data == expected:
        return None
    offset = next(
        (i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b),
        min(len(data), len(expected)),
    )
    where = "after the last member"
    for span in spans:
        if span.header_offset <= offset < span.data_offset:
            where = f"in the header of {span.path}"
            break
        if span.data_offset <= offset < span.end:
            where = f"in the data or padding of {span.path}"
            break
    return f"byte {offset} differs from the canonical archive ({where}); it was altered after packing"
