"""The protobuf wire format, as far as the v4 cold-signed messages need it: varints and length-delimited.

Encoding follows proto3: a scalar equal to its default (0, "", b"") is left out, an embedded message that
is set is always written, fields go in field-number order. That is what the official clients' gencode
emits, so our bytes are theirs (the vectors check it).

Decoding is deliberately stricter than protobuf's own parsers. Protobuf accepts many spellings of one
message (padded varints, fields out of order, a field repeated so that the last copy wins, unknown fields
skipped); a reviewer that read one spelling while the chain read another would show the operator a
transaction that is not the one being signed. So the tokenizer refuses non-canonical varints, lengths
that run past the end, wire types other than VARINT and LEN, and field numbers out of range; the schema
layer refuses unknown fields (unless the caller allows them), wrong wire types, a non-repeated field seen
twice, and fields out of order. The message layer then re-encodes and compares bytes (see
``messages.py``/``tx.py``), which closes whatever the rules here leave open.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum

from dydx_airgap.shared.errors import FormatError, InputError

UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
MAX_FIELD_NUMBER = 2**29 - 1
_MAX_VARINT_BYTES = 10
#: No v4 transaction we sign or relay comes near this; it bounds work on hostile input.
MAX_MESSAGE_BYTES = 1 << 20


class WireType(IntEnum):
    VARINT = 0
    I64 = 1
    LEN = 2
    SGROUP = 3
    EGROUP = 4
    I32 = 5


class Kind(IntEnum):
    """What a schema field holds; it fixes the wire type and the value checks."""

    UINT64 = 1
    UINT32 = 2
    ENUM = 3
    STRING = 4
    BYTES = 5
    MESSAGE = 6
    #: fixed32: four little-endian bytes (CLOB order ids and good-til-block-time use it).
    FIXED32 = 7


_WIRE_OF_KIND = {
    Kind.UINT64: WireType.VARINT,
    Kind.UINT32: WireType.VARINT,
    Kind.ENUM: WireType.VARINT,
    Kind.STRING: WireType.LEN,
    Kind.BYTES: WireType.LEN,
    Kind.MESSAGE: WireType.LEN,
    Kind.FIXED32: WireType.I32,
}


# --- encoding -------------------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        raise InputError(f"a protobuf varint holds 0 … 2**64-1, not {value!r}")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: WireType) -> bytes:
    if not 1 <= number <= MAX_FIELD_NUMBER:
        raise InputError(f"protobuf field number {number} out of range")
    return encode_varint((number << 3) | wire_type)


def uint_field(number: int, value: int, *, bits: int = 64) -> bytes:
    """A uint64/uint32/enum field; empty when ``value`` is 0 (proto3 leaves defaults out)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise InputError(f"field {number}: {value!r} is not a uint{bits}")
    return _tag(number, WireType.VARINT) + encode_varint(value) if value else b""


def bytes_field(number: int, value: bytes) -> bytes:
    """A bytes field; empty when ``value`` is empty."""
    if not isinstance(value, bytes):
        raise InputError(f"field {number}: expected bytes")
    return _tag(number, WireType.LEN) + encode_varint(len(value)) + value if value else b""


def fixed32_field(number: int, value: int) -> bytes:
    """A fixed32 field (four little-endian bytes); empty when ``value`` is 0."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise InputError(f"field {number}: {value!r} is not a fixed32")
    return _tag(number, WireType.I32) + value.to_bytes(4, "little") if value else b""


def packed_uint64_field(number: int, values: tuple[int, ...]) -> bytes:
    """A packed repeated uint64 (proto3's default for repeated scalars); empty when there are none."""
    if not values:
        return b""
    return bytes_field(number, b"".join(encode_varint(v) for v in values))


def decode_packed_uint64(data: bytes, what: str) -> tuple[int, ...]:
    """The varints of a packed repeated uint64, each in canonical form."""
    values: list[int] = []
    pos = 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        values.append(value)
    if not values:
        raise FormatError(f"{what}: a packed field that is present holds at least one value")
    return tuple(values)


def string_field(number: int, value: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"field {number}: expected a string")
    return bytes_field(number, value.encode("utf-8"))


def message_field(number: int, encoded: bytes) -> bytes:
    """An embedded message that is set: written even when its encoding is empty (presence matters)."""
    return _tag(number, WireType.LEN) + encode_varint(len(encoded)) + encoded


# --- tokenizing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawField:
    number: int
    wire_type: WireType
    value: int | bytes  # int for VARINT and I32, bytes for LEN


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise FormatError("protobuf: truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            # A final 0x00 group adds nothing: protobuf reads it, we refuse it (two spellings, one value).
            if i > 0 and byte == 0:
                raise FormatError("protobuf: non-canonical varint (padded with zero groups)")
            if value > UINT64_MAX:
                raise FormatError("protobuf: varint larger than 64 bits")
            return value, pos + i + 1
    raise FormatError("protobuf: varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[RawField]:
    """Tokenize one message level. Only VARINT, LEN and I32 (fixed32) occur in the v4 messages; the rest
    (I64, groups) are refused."""
    if not isinstance(data, bytes):
        raise FormatError("protobuf: expected bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise FormatError(f"protobuf: message larger than {MAX_MESSAGE_BYTES} bytes")
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if not 1 <= number <= MAX_FIELD_NUMBER:
            raise FormatError(f"protobuf: field number {number} out of range")
        if wire == WireType.VARINT:
            value, pos = _read_varint(data, pos)
            yield RawField(number, WireType.VARINT, value)
        elif wire == WireType.LEN:
            length, pos = _read_varint(data, pos)
            if length > len(data) - pos:
                raise FormatError(f"protobuf: field {number} claims {length} bytes, {len(data) - pos} remain")
            yield RawField(number, WireType.LEN, data[pos : pos + length])
            pos += length
        elif wire == WireType.I32:
            if len(data) - pos < 4:
                raise FormatError(f"protobuf: field {number} is a truncated fixed32")
            yield RawField(number, WireType.I32, int.from_bytes(data[pos : pos + 4], "little"))
            pos += 4
        else:
            raise FormatError(f"protobuf: field {number} has wire type {wire}, which no v4 message uses")


# --- schema decoding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    repeated: bool = False
    name: str = ""


Schema = Mapping[int, FieldSpec]


class Decoded:
    """The fields of one message, checked against its schema; getters return proto3 defaults if absent."""

    __slots__ = ("_values", "what")

    def __init__(self, what: str, values: dict[int, list[int | bytes]]) -> None:
        self.what = what
        self._values = values

    def _one(self, number: int) -> int | bytes | None:
        found = self._values.get(number)
        return found[0] if found else None

    def uint(self, number: int) -> int:
        value = self._one(number)
        if value is None:
            return 0
        if not isinstance(value, int):  # pragma: no cover - the schema check makes this unreachable
            raise FormatError(f"{self.what}: field {number} is not a varint")
        return value

    def bytes_(self, number: int) -> bytes:
        value = self._one(number)
        if value is None:
            return b""
        if not isinstance(value, bytes):  # pragma: no cover - the schema check makes this unreachable
            raise FormatError(f"{self.what}: field {number} is not length-delimited")
        return value

    def string(self, number: int) -> str:
        return _utf8(self.what, number, self.bytes_(number))

    def message(self, number: int) -> bytes | None:
        """The embedded message's bytes, or None when the field is absent (presence is meaningful)."""
        value = self._one(number)
        if value is None:
            return None
        return self.bytes_(number)

    def repeated_bytes(self, number: int) -> list[bytes]:
        return [v for v in self._values.get(number, []) if isinstance(v, bytes)]

    def repeated_strings(self, number: int) -> list[str]:
        return [_utf8(self.what, number, v) for v in self.repeated_bytes(number)]

    def has(self, number: int) -> bool:
        return number in self._values


def _utf8(what: str, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{what}: field {number} is a string but not valid UTF-8") from None


def decode_message(data: bytes, schema: Schema, what: str, *, allow_unknown: bool = False) -> Decoded:
    """Check ``data`` against ``schema`` and return its fields.

    Refused: a field number not in the schema (unless ``allow_unknown``), a wire type other than the
    schema's, a non-repeated field occurring twice, fields out of field-number order, a uint32 over
    2**32-1, a string that is not UTF-8, and a default value written explicitly (proto3 omits it, so an
    explicit zero is a second spelling of the same message).
    """
    values: dict[int, list[int | bytes]] = {}
    last = 0
    for field in iter_fields(data):
        spec = schema.get(field.number)
        if spec is None:
            if allow_unknown:
                continue
            raise FormatError(f"{what}: unknown field {field.number}")
        label = spec.name or str(field.number)
        if field.wire_type != _WIRE_OF_KIND[spec.kind]:
            raise FormatError(f"{what}: field {label} has wire type {int(field.wire_type)}")
        if field.number < last:
            raise FormatError(f"{what}: field {label} out of field-number order")
        if field.number == last and not spec.repeated:
            raise FormatError(f"{what}: field {label} occurs more than once")
        last = field.number
        value = field.value
        if isinstance(value, int):
            if spec.kind is Kind.UINT32 and value > UINT32_MAX:
                raise FormatError(f"{what}: field {label} does not fit in 32 bits")
            if spec.kind is Kind.ENUM and value > UINT32_MAX:
                raise FormatError(f"{what}: enum field {label} out of range")
            if value == 0 and not spec.repeated:
                raise FormatError(f"{what}: field {label} writes its default value 0 explicitly")
        else:
            if spec.kind is Kind.STRING:
                _utf8(what, field.number, value)
            if not value and not spec.repeated and spec.kind is not Kind.MESSAGE:
                raise FormatError(f"{what}: field {label} writes its default (empty) value explicitly")
        values.setdefault(field.number, []).append(value)
    return Decoded(what, values)
