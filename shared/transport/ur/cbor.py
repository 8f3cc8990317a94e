"""The sliver of CBOR (RFC 8949) that URs need: unsigned integers, byte strings and array headers.

Decoding is strict: only definite lengths, only the shortest ("preferred") encoding of every
integer and length as deterministic CBOR requires, caller-given bounds on every length and value,
and no trailing bytes. Anything else raises ``FormatError``: frames come from a camera or a file and
are untrusted.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import FormatError

__all__ = ["CborReader", "decode_byte_string", "encode_array_header", "encode_byte_string", "encode_uint"]

_UINT = 0
_BYTES = 2
_ARRAY = 4
_MAX_ARGUMENT = (1 << 64) - 1


def _head(major: int, argument: int) -> bytes:
    if not 0 <= argument <= _MAX_ARGUMENT:
        raise ValueError("CBOR argument out of range")
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise AssertionError("unreachable: argument fits in 8 bytes")


def encode_uint(value: int) -> bytes:
    """Unsigned integer (major type 0), shortest form."""
    return _head(_UINT, value)


def encode_byte_string(data: bytes) -> bytes:
    """Byte string (major type 2) with a definite, shortest-form length."""
    return _head(_BYTES, len(data)) + bytes(data)


def encode_array_header(count: int) -> bytes:
    """Header of a definite-length array (major type 4) of ``count`` items."""
    return _head(_ARRAY, count)


class CborReader:
    """Reads items one at a time from a buffer; call ``finish`` to reject trailing bytes."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str = "CBOR data") -> None:
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def _fail(self, reason: str) -> FormatError:
        return FormatError(f"{self._what} is malformed: {reason}")

    def _take(self, count: int) -> bytes:
        end = self._pos + count
        if end > len(self._data):
            raise self._fail("it ends early (truncated)")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def _read_head(self, expected_major: int, name: str) -> int:
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major != expected_major:
            raise self._fail(f"expected {name}, found CBOR major type {major}")
        if info < 24:
            return info
        if info > 27:
            # 28-30 are reserved; 31 is an indefinite length, which deterministic CBOR forbids.
            raise self._fail(f"{name} uses an indefinite or reserved length")
        size = 1 << (info - 24)
        argument = int.from_bytes(self._take(size), "big")
        minimum = 24 if size == 1 else 1 << (8 * (size // 2))
        if argument < minimum:
            raise self._fail(f"{name} is not in shortest form")
        return argument

    def read_uint(self, maximum: int) -> int:
        """An unsigned integer no larger than ``maximum``."""
        value = self._read_head(_UINT, "an unsigned integer")
        if value > maximum:
            raise self._fail(f"an integer is larger than {maximum}")
        return value

    def read_bytes(self, max_length: int) -> bytes:
        """A byte string of at most ``max_length`` bytes."""
        length = self._read_head(_BYTES, "a byte string")
        if length > max_length:
            raise self._fail(f"a byte string is longer than {max_length} bytes")
        return self._take(length)

    def read_array_header(self, max_items: int) -> int:
        """The item count of a definite-length array of at most ``max_items`` items."""
        count = self._read_head(_ARRAY, "an array")
        if count > max_items:
            raise self._fail(f"an array has more than {max_items} items")
        return count

    def finish(self) -> None:
        """Raise if any bytes remain unread."""
        if self._pos != len(self._data):
            raise self._fail(f"{len(self._data) - self._pos} unexpected trailing bytes")


def decode_byte_string(data: bytes, max_length: int, what: str = "UR message") -> bytes:
    """The content of ``data`` when it is exactly one CBOR byte string of at most ``max_length`` bytes."""
    reader = CborReader(data, what)
    content = reader.read_bytes(max_length)
    reader.finish()
    return content
