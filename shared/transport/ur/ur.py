"""Uniform Resources (BCR-2020-005): ``ur:<type>/<bytewords>`` and ``ur:<type>/<n>-<m>/<bytewords>``.

A UR carries one CBOR message. Short messages travel as a single part; longer ones as fountain
parts (see ``fountain``). Parsing ignores letter case, so the upper-case form that QR codes carry
in their compact alphanumeric mode reads back the same as the canonical lower-case form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.transport.ur import bytewords
from dydx_airgap.shared.transport.ur.bytewords import crc32
from dydx_airgap.shared.transport.ur.fountain import (
    DEFAULT_MIN_FRAGMENT_LEN,
    MAX_MESSAGE_LEN,
    FountainDecoder,
    FountainEncoder,
    Part,
)

__all__ = [
    "MAX_UR_TEXT_LEN",
    "UR",
    "URDecoder",
    "UREncoder",
    "URFrame",
    "encode_multi_part",
    "encode_single_part",
    "is_ur_type",
    "parse",
    "to_qr_text",
]

# The longest text we will even look at: a single-part UR of the largest message, in minimal
# Bytewords (2 letters a byte, 4-byte checksum), plus room for the scheme, type and sequence.
MAX_UR_TEXT_LEN = 2 * (MAX_MESSAGE_LEN + 16) + 128

_TYPE_RE = re.compile(r"[a-z0-9-]{1,64}")
_SEQ_RE = re.compile(r"([1-9][0-9]{0,9})-([1-9][0-9]{0,9})")


def is_ur_type(text: str) -> bool:
    """True for a valid UR type: letters, digits and hyphens (we also cap it at 64 characters)."""
    return text.isascii() and _TYPE_RE.fullmatch(text.lower()) is not None


def _check_type(ur_type: str) -> str:
    if not is_ur_type(ur_type):
        raise ValueError(f"invalid UR type {ur_type!r}: use letters, digits and '-'")
    return ur_type.lower()


@dataclass(frozen=True)
class UR:
    """A UR type and the CBOR message it carries."""

    ur_type: str
    cbor: bytes


@dataclass(frozen=True)
class URFrame:
    """One parsed UR string: either a whole single-part message or one fountain part."""

    ur_type: str
    message: bytes | None = None
    part: Part | None = None


def encode_single_part(ur: UR) -> str:
    """``ur:<type>/<minimal bytewords of the CBOR>`` in canonical lower case."""
    return f"ur:{_check_type(ur.ur_type)}/{bytewords.encode(ur.cbor)}"


def encode_multi_part(ur_type: str, part: Part) -> str:
    """``ur:<type>/<seqNum>-<seqLen>/<minimal bytewords of the part CBOR>`` in lower case."""
    return f"ur:{_check_type(ur_type)}/{part.seq_num}-{part.seq_len}/{bytewords.encode(part.to_cbor())}"


def to_qr_text(ur_text: str) -> str:
    """Upper-case form: every character then falls in the QR alphanumeric set (about 5.5 bits each)."""
    return ur_text.upper()


def parse(text: str) -> URFrame:
    """Parse one UR string (any letter case); raise ``FormatError`` with the reason if it is not one."""
    if len(text) > MAX_UR_TEXT_LEN:
        raise FormatError(f"text of {len(text)} characters is too long to be a UR frame")
    if not text.isascii():
        raise FormatError("text is not a UR frame: it holds non-ASCII characters")
    lowered = text.strip().lower()
    if not lowered.startswith("ur:"):
        raise FormatError("text is not a UR frame: it does not start with 'ur:'")
    components = lowered[3:].split("/")
    ur_type = components[0]
    if not _TYPE_RE.fullmatch(ur_type):
        raise FormatError("UR frame has an invalid type: use letters, digits and '-'")
    if len(components) == 2:
        return URFrame(ur_type, message=bytewords.decode(components[1]))
    if len(components) != 3:
        raise FormatError("UR frame has the wrong number of '/'-separated components")
    seq = _SEQ_RE.fullmatch(components[1])
    if seq is None:
        raise FormatError("UR frame has a malformed sequence component (expected '<n>-<m>')")
    part = Part.from_cbor(bytewords.decode(components[2]))
    if (part.seq_num, part.seq_len) != (int(seq.group(1)), int(seq.group(2))):
        raise FormatError("UR frame sequence component disagrees with the part it carries")
    return URFrame(ur_type, part=part)


class UREncoder:
    """Turns one UR into frames: a single part when the CBOR fits one fragment, else fountain parts.

    ``next_part()`` returns lower-case text; the first ``seq_len`` calls return the pure parts, later
    calls mixed parts (for a single-part UR every call returns the same string).
    """

    def __init__(
        self,
        ur: UR,
        max_fragment_len: int,
        *,
        min_fragment_len: int = DEFAULT_MIN_FRAGMENT_LEN,
        first_seq_num: int = 0,
    ) -> None:
        self.ur = UR(_check_type(ur.ur_type), bytes(ur.cbor))
        self._fountain = FountainEncoder(
            self.ur.cbor, max_fragment_len, min_fragment_len=min_fragment_len, first_seq_num=first_seq_num
        )

    @property
    def is_single_part(self) -> bool:
        return self._fountain.seq_len == 1

    @property
    def seq_len(self) -> int:
        return self._fountain.seq_len

    def next_part(self) -> str:
        if self.is_single_part:
            return encode_single_part(self.ur)
        return encode_multi_part(self.ur.ur_type, self._fountain.next_part())


class URDecoder:
    """Accepts UR strings of one message in any order until the message is complete.

    ``receive`` returns True when the frame added information, False for a duplicate or a frame that
    adds nothing new. It raises ``FormatError`` for a malformed frame, a frame of another UR type than
    ``expected_type`` (or than the first frame), and a frame from a different message.
    """

    def __init__(self, expected_type: str | None = None) -> None:
        self._type = None if expected_type is None else _check_type(expected_type)
        self._fountain = FountainDecoder()
        self._single: bytes | None = None

    @property
    def is_complete(self) -> bool:
        return self._single is not None or self._fountain.is_complete

    @property
    def fountain(self) -> FountainDecoder:
        return self._fountain

    @property
    def result(self) -> UR:
        if self._type is None or not self.is_complete:
            raise FormatError("the UR is not complete yet; scan more frames")
        message = self._single if self._single is not None else self._fountain.result
        return UR(self._type, message)

    def receive(self, text: str) -> bool:
        return self.receive_frame(parse(text))

    def receive_frame(self, frame: URFrame) -> bool:
        if self._type is None:
            self._type = frame.ur_type
        elif frame.ur_type != self._type:
            raise FormatError(f"frame has UR type '{frame.ur_type}', expected '{self._type}'")
        if frame.message is not None:
            return self._receive_single(frame.message)
        assert frame.part is not None
        part = frame.part
        if self._single is not None:
            # Already complete from a single-part frame: accept only parts of that same message.
            _same_message_or_raise(
                f"frame {part.seq_num}-{part.seq_len}",
                (part.message_len, part.checksum),
                (len(self._single), crc32(self._single)),
            )
            return False
        return self._fountain.receive(part)

    def _receive_single(self, message: bytes) -> bool:
        new_id = (len(message), crc32(message))
        if self._single is not None:
            if message != self._single:
                _same_message_or_raise(
                    "a single-part frame", new_id, (len(self._single), crc32(self._single))
                )
                raise FormatError("two single-part frames differ though their checksums agree; re-scan")
            return False
        known = self._fountain.message_id
        if known is not None:
            _same_message_or_raise("a single-part frame", new_id, (known.message_len, known.checksum))
            if self._fountain.is_complete:
                return False
        self._single = message
        return True


def _same_message_or_raise(what: str, new: tuple[int, int], old: tuple[int, int]) -> None:
    """Raise unless two (message length, CRC-32) identities agree, naming both sides of the conflict."""
    if new != old:
        raise FormatError(
            f"{what} belongs to a different message (checksum {new[1]:08x}, {new[0]} bytes) than the "
            f"frames already read (checksum {old[1]:08x}, {old[0]} bytes); scan one message at a time"
        )
