"""Recursive Length Prefix (RLP), the serialisation inside Ethereum transactions — strict decoding only.

Decoding accepts exactly one encoding per value: a single byte below 0x80 must stand for itself, short
lengths must use the short form, long-form lengths have no leading zero byte, and nothing may follow the
item. A signer that accepted a second spelling of the same transaction would show one thing and hash
another, so every deviation is a ``FormatError``.
"""

from __future__ import annotations

from typing import TypeAlias

from dydx_airgap.shared.errors import FormatError

# An RLP item is a byte string or a list of items.
RlpItem: TypeAlias = "bytes | list[RlpItem]"

# Deep nesting has no use in a transaction and would let hostile input exhaust the Python stack.
MAX_DEPTH = 16


def encode(item: RlpItem) -> bytes:
    """Encode a byte string or a (nested) list of byte strings."""
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        if len(data) == 1 and data[0] < 0x80:
            return data
        return _length_prefix(len(data), 0x80) + data
    if isinstance(item, list | tuple):
        body = b"".join(encode(child) for child in item)
        return _length_prefix(len(body), 0xC0) + body
    raise TypeError(f"RLP encodes bytes and lists, not {type(item).__name__}")


def encode_uint(value: int) -> bytes:
    """The RLP byte string of a non-negative integer: big-endian, no leading zeros, zero is empty."""
    if value < 0:
        raise ValueError("RLP integers are non-negative")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_uint(data: bytes, *, max_bits: int = 256, what: str = "integer") -> int:
    """Read an integer field, refusing leading zero bytes (a second spelling of the same number)."""
    if not isinstance(data, bytes):
        raise FormatError(f"the {what} field must be a byte string, not a list")
    if data[:1] == b"\x00":
        raise FormatError(f"the {what} field has a leading zero byte (non-canonical RLP)")
    value = int.from_bytes(data, "big")
    if value.bit_length() > max_bits:
        raise FormatError(f"the {what} field does not fit in {max_bits} bits")
    return value


def decode(data: bytes) -> RlpItem:
    """Decode exactly one item that spans all of ``data``."""
    data = bytes(data)
    item, end = _decode_at(data, 0, len(data), 0)
    if end != len(data):
        raise FormatError(f"{len(data) - end} unexpected bytes after the RLP item")
    return item


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    length_bytes = encode_uint(length)
    return bytes([offset + 55 + len(length_bytes)]) + length_bytes


def _read_length(data: bytes, start: int, size: int, limit: int) -> int:
    """Read a long-form length of ``size`` bytes at ``start``."""
    raw = data[start : min(start + size, limit)]
    if len(raw) != size:
        raise FormatError("RLP data is truncated inside a length")
    if raw[0] == 0:
        raise FormatError("RLP length has a leading zero byte (non-canonical)")
    length = int.from_bytes(raw, "big")
    if length < 56:
        raise FormatError("RLP long form used for a length below 56 (non-canonical)")
    return length


def _decode_at(data: bytes, pos: int, limit: int, depth: int) -> tuple[RlpItem, int]:
    """Decode the item at ``pos``; it must end at or before ``limit`` (the end of its parent)."""
    if depth > MAX_DEPTH:
        raise FormatError(f"RLP nesting deeper than {MAX_DEPTH} levels")
    if pos >= limit:
        raise FormatError("RLP data is truncated")
    prefix = data[pos]
    if prefix < 0x80:
        return data[pos : pos + 1], pos + 1
    if prefix <= 0xB7:
        length = prefix - 0x80
        start = pos + 1
        end = start + length
        if end > limit:
            raise FormatError("RLP byte string is truncated")
        if length == 1 and data[start] < 0x80:
            raise FormatError("RLP single byte below 0x80 wrapped in a prefix (non-canonical)")
        return data[start:end], end
    if prefix <= 0xBF:
        size = prefix - 0xB7
        length = _read_length(data, pos + 1, size, limit)
        start = pos + 1 + size
        end = start + length
        if end > limit:
            raise FormatError("RLP byte string is truncated")
        return data[start:end], end
    if prefix <= 0xF7:
        start = pos + 1
        end = start + (prefix - 0xC0)
    else:
        size = prefix - 0xF7
        length = _read_length(data, pos + 1, size, limit)
        start = pos + 1 + size
        end = start + length
    if end > limit:
        raise FormatError("RLP list is truncated")
    items: list[RlpItem] = []
    cursor = start
    while cursor < end:
        child, cursor = _decode_at(data, cursor, end, depth + 1)
        items.append(child)
    return items, end
