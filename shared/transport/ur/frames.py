"""Payload bytes <-> QR frame texts: the part of the QR transport that needs no imaging library.

A payload (opaque bytes, at most 64 KiB) is wrapped as one CBOR byte string and sent as a UR of
type ``x-dydx-airgap``: the ``x-`` prefix is the one BCR-2020-006 reserves for user-defined types,
and BCR-2020-005 keeps ``bytes`` for testing only. Frames are upper case so QR codes use their
alphanumeric mode.

    frames = encode_frames(payload)          # ["UR:X-DYDX-AIRGAP/...", ...]
    assert decode_frames(frames) == payload  # any order, duplicates and lost mixed frames tolerated
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.transport.ur import cbor
from dydx_airgap.shared.transport.ur.fountain import FountainEncoder, Part
from dydx_airgap.shared.transport.ur.ur import (
    UR,
    URDecoder,
    encode_multi_part,
    encode_single_part,
    is_ur_type,
    parse,
    to_qr_text,
)

__all__ = [
    "DEFAULT_EXTRA_RATIO",
    "DEFAULT_MAX_FRAGMENT_LEN",
    "DEFAULT_UR_TYPE",
    "MAX_PAYLOAD_LEN",
    "Assembler",
    "decode_frames",
    "encode_frames",
]

DEFAULT_UR_TYPE = "x-dydx-airgap"
MAX_PAYLOAD_LEN = 64 * 1024
# About 1 KB of message per frame, which keeps every frame at QR version 29 (133 modules, ECC M);
# 1 KiB would need version 31 and reads noticeably worse from poor photos (bench/bench_qr.py).
# Payloads up to 997 bytes (plus the 3-byte CBOR byte-string head) are one frame.
DEFAULT_MAX_FRAGMENT_LEN = 1000
# Mixed frames appended after the pure ones, as a fraction of the pure count. Measured on 8 KiB
# payloads (18 frames): after losing a random 20 % of the frames the rest still decode in 97 % of
# trials, after losing 40 % in 66 % (85 % and 48 % with plain consecutive parts; bench/bench_qr.py).
DEFAULT_EXTRA_RATIO = 1.0
_MAX_EXTRA_RATIO = 10.0
_MAX_REMEMBERED = 100_000


def encode_frames(
    data: bytes,
    max_fragment_len: int = DEFAULT_MAX_FRAGMENT_LEN,
    *,
    extra_ratio: float = DEFAULT_EXTRA_RATIO,
    ur_type: str = DEFAULT_UR_TYPE,
) -> list[str]:
    """Encode ``data`` as upper-case UR frame texts, one per QR code.

    A payload whose envelope fits in ``max_fragment_len`` bytes gives one single-part frame.
    Otherwise the result is the ``seq_len`` pure fountain parts followed by
    ``ceil(seq_len * extra_ratio)`` mixed parts (see ``_mixed_parts``), so a reader can miss some
    frames and still finish. Deterministic: the same input always gives the same frames.
    Raises ``InputError`` for a payload over 64 KiB or a bad parameter.
    """
    if len(data) > MAX_PAYLOAD_LEN:
        raise InputError(f"payload is {len(data)} bytes; the QR transport carries at most {MAX_PAYLOAD_LEN}")
    if not 16 <= max_fragment_len <= MAX_PAYLOAD_LEN:
        raise InputError("max_fragment_len must be between 16 and 65536 bytes")
    if not 0.0 <= extra_ratio <= _MAX_EXTRA_RATIO:
        raise InputError(f"extra_ratio must be between 0 and {_MAX_EXTRA_RATIO}")
    if not is_ur_type(ur_type):
        raise InputError("ur_type must be letters, digits and '-'")
    message = UR(ur_type.lower(), cbor.encode_byte_string(data))
    encoder = FountainEncoder(message.cbor, max_fragment_len)
    if encoder.seq_len == 1:
        return [to_qr_text(encode_single_part(message))]
    pure = [encoder.next_part() for _ in range(encoder.seq_len)]
    mixed = _mixed_parts(encoder, math.ceil(encoder.seq_len * extra_ratio))
    return [to_qr_text(encode_multi_part(message.ur_type, part)) for part in pure + mixed]


def _mixed_parts(encoder: FountainEncoder, count: int) -> list[Part]:
    """``count`` mixed parts picked from the encoder's stream for a fixed, finite set of frames.

    The standard schedule favours parts that mix one or two fragments, which suits an endless
    animated stream but wastes frames in a short fixed set: a single-fragment part only helps if
    that very fragment was lost. So we skip parts mixing fewer than ``max(2, seq_len // 4)``
    fragments and repeats of a fragment set already chosen. Every part is still a standard UR part
    with its own sequence number; readers cope with the gaps as with lost frames.
    """
    seq_len = encoder.seq_len
    min_degree = max(2, seq_len // 4) if seq_len >= 6 else min(2, seq_len)
    scan_limit = encoder.seq_num + 64 * count  # past this, take parts as they come
    chosen: list[Part] = []
    seen: set[frozenset[int]] = set()
    while len(chosen) < count:
        part = encoder.next_part()
        indexes = part.indexes
        if part.seq_num <= scan_limit and (len(indexes) < min_degree or indexes in seen):
            continue
        seen.add(indexes)
        chosen.append(part)
    return chosen


def _printable_excerpt(text: str, limit: int = 40) -> str:
    # Foreign content is untrusted: show a short, single-line, printable-ASCII glimpse only.
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")


class Assembler:
    """Collects frame texts of one payload, in any order, until the payload is complete.

    - exact duplicates (ignoring letter case) are skipped cheaply;
    - a frame of a different message raises ``FormatError`` naming both messages;
    - text that is not one of our frames (a URL, another UR type, random text) is counted as
      foreign and otherwise ignored, so a stray QR code in view does not stop a scan;
    - a frame that claims our UR type but does not decode raises ``FormatError`` when ``strict``
      (text input), or is counted and skipped when not (camera input, where a misread is possible).

    ``result()`` returns the payload, or raises ``FormatError`` saying what is missing.
    """

    def __init__(self, ur_type: str = DEFAULT_UR_TYPE, *, strict: bool = True) -> None:
        if not is_ur_type(ur_type):
            raise InputError("ur_type must be letters, digits and '-'")
        self.ur_type = ur_type.lower()
        self.strict = strict
        self._decoder = URDecoder(self.ur_type)
        self._seen: set[bytes] = set()
        self._prefix = f"ur:{self.ur_type}/"
        self.frames_accepted = 0
        self.foreign_count = 0
        self.rejected_count = 0
        self._first_foreign: str | None = None
        self._last_rejection: str | None = None

    @property
    def is_complete(self) -> bool:
        return self._decoder.is_complete

    @property
    def progress(self) -> tuple[int, int]:
        """(independent fragments recovered, fragments needed); (0, 0) before the first frame."""
        fountain = self._decoder.fountain
        message_id = fountain.message_id
        if self.is_complete:
            needed = 1 if message_id is None else message_id.seq_len
            return (needed, needed)
        if message_id is None:
            return (0, 0)
        return (fountain.fragments_known, message_id.seq_len)

    def add(self, text: str) -> bool:
        """Offer one decoded QR text; return True if it brought the payload closer to complete."""
        key = text.strip().lower() if text.isascii() else text
        # Remember digests, not texts: a camera may see thousands of frames, each ~2 KB long.
        digest = hashlib.sha256(key.encode("utf-8", errors="replace")).digest()
        if digest in self._seen:
            return False
        if len(self._seen) < _MAX_REMEMBERED:
            self._seen.add(digest)
        if not key.startswith(self._prefix):
            self.foreign_count += 1
            if self._first_foreign is None:
                self._first_foreign = _printable_excerpt(text)
            return False
        try:
            frame = parse(text)
        except FormatError as exc:
            if self.strict:
                raise
            self.rejected_count += 1
            self._last_rejection = exc.message
            return False
        if self._decoder.receive_frame(frame):
            self.frames_accepted += 1
            return True
        return False

    def result(self) -> bytes:
        """The payload bytes; raises ``FormatError`` if incomplete or if nothing valid was read."""
        if not self.is_complete:
            known, needed = self.progress
            if needed:
                raise FormatError(
                    f"payload incomplete: {known} of {needed} fragments recovered; scan more frames"
                )
            if self.rejected_count:
                raise FormatError(f"no readable {self.ur_type} frame: {self._last_rejection}")
            if self.foreign_count:
                raise FormatError(
                    f"the QR codes read are not {self.ur_type} frames (first one: "
                    f"'{self._first_foreign}'); show the frames exported by dydx-airgap"
                )
            raise FormatError("no QR frame was read; check the images or the camera")
        return cbor.decode_byte_string(self._decoder.result.cbor, MAX_PAYLOAD_LEN, "QR payload envelope")


def decode_frames(frames: Iterable[str], *, ur_type: str = DEFAULT_UR_TYPE, strict: bool = True) -> bytes:
    """Reassemble the payload from frame texts (any order, any case); stops reading once complete.

    Raises ``FormatError`` for malformed frames (when ``strict``), mixed messages, foreign-only
    content, or too few frames.
    """
    assembler = Assembler(ur_type, strict=strict)
    for text in frames:
        assembler.add(text)
        if assembler.is_complete:
            break
    return assembler.result()
