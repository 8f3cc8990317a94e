"""The UR fountain code (BCR-2020-005): split a message into equal fragments and emit parts.

Parts ``1..seqLen`` carry the fragments in order ("pure" parts); every later part carries the XOR of
a pseudo-random subset of fragments chosen from ``SHA-256(seqNum || checksum)``, so a reader that
missed some frames can still finish from whichever parts it catches. Encoder and decoder agree on
the subsets through ``choose_fragments``; the decoder's strategy is ours (Gaussian elimination over
GF(2), which finishes as soon as the received parts determine the message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.transport.ur import cbor
from dydx_airgap.shared.transport.ur.bytewords import crc32
from dydx_airgap.shared.transport.ur.xoshiro import AliasSampler, Xoshiro256

__all__ = [
    "MAX_MESSAGE_LEN",
    "MAX_SEQ_LEN",
    "FountainDecoder",
    "FountainEncoder",
    "MessageId",
    "Part",
    "choose_degree",
    "choose_fragments",
    "find_nominal_fragment_length",
    "partition_message",
    "shuffled",
]

_T = TypeVar("_T")

_UINT32_MAX = 0xFFFFFFFF
# The largest message this package will reassemble: a 64 KiB payload plus its CBOR byte-string head.
# A frame that claims more is refused before any memory is committed to it.
MAX_MESSAGE_LEN = 64 * 1024 + 5
# Fragment choice costs O(seqLen^2) per mixed part; no sane encoding of MAX_MESSAGE_LEN needs more
# fragments than this (the reference minimum fragment length of 10 bytes gives 6555).
MAX_SEQ_LEN = 8192
DEFAULT_MIN_FRAGMENT_LEN = 10


def find_nominal_fragment_length(message_len: int, min_fragment_len: int, max_fragment_len: int) -> int:
    """The fragment length for the fewest equal fragments no longer than ``max_fragment_len``.

    Same rule as the reference encoders (so our frames match their test vectors): try 1, 2, 3, ...
    fragments and keep the first length ``ceil(message_len / count)`` that fits, never going below
    ``min_fragment_len`` worth of fragments.
    """
    if message_len <= 0 or min_fragment_len <= 0 or max_fragment_len < min_fragment_len:
        raise ValueError("need message_len > 0 and 0 < min_fragment_len <= max_fragment_len")
    max_count = max(1, message_len // min_fragment_len)
    fragment_len = message_len
    for count in range(1, max_count + 1):
        fragment_len = -(-message_len // count)
        if fragment_len <= max_fragment_len:
            break
    return fragment_len


def partition_message(message: bytes, fragment_len: int) -> list[bytes]:
    """Cut ``message`` into ``fragment_len`` pieces, zero-padding the last one."""
    fragments = [message[i : i + fragment_len] for i in range(0, len(message), fragment_len)]
    fragments[-1] = fragments[-1].ljust(fragment_len, b"\x00")
    return fragments


def shuffled(items: Sequence[_T], rng: Xoshiro256) -> list[_T]:
    """Fisher-Yates order drawn by repeatedly removing ``rng.next_int(0, remaining - 1)``."""
    remaining = list(items)
    result: list[_T] = []
    while remaining:
        # next_int can overshoot by one when next_double rounds up to 1.0; clamp (see AliasSampler).
        index = min(rng.next_int(0, len(remaining) - 1), len(remaining) - 1)
        result.append(remaining.pop(index))
    return result


def choose_degree(seq_len: int, rng: Xoshiro256) -> int:
    """How many fragments a mixed part combines: ``d`` with probability proportional to ``1/d``."""
    sampler = AliasSampler([1.0 / d for d in range(1, seq_len + 1)])
    return sampler.next(rng.next_double) + 1


def choose_fragments(seq_num: int, seq_len: int, checksum: int) -> frozenset[int]:
    """Zero-based indexes of the fragments XORed into part ``seq_num`` (BCR-2020-005)."""
    if seq_num <= seq_len:
        return frozenset({seq_num - 1})
    seed = seq_num.to_bytes(4, "big") + checksum.to_bytes(4, "big")
    rng = Xoshiro256.from_seed(seed)
    degree = choose_degree(seq_len, rng)
    return frozenset(shuffled(range(seq_len), rng)[:degree])


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


@dataclass(frozen=True)
class Part:
    """One fountain part: ``[seqNum, seqLen, messageLen, checksum, data]`` in CBOR on the wire."""

    seq_num: int
    seq_len: int
    message_len: int
    checksum: int
    data: bytes

    def __post_init__(self) -> None:
        # Every part we build or accept is internally consistent; a decoder never has to guess.
        if not 1 <= self.seq_num <= _UINT32_MAX:
            raise FormatError("fountain part has a sequence number outside 1..2^32-1")
        if not 1 <= self.message_len <= MAX_MESSAGE_LEN:
            raise FormatError(
                f"fountain part claims a {self.message_len}-byte message; the limit is {MAX_MESSAGE_LEN}"
            )
        if not 0 <= self.checksum <= _UINT32_MAX:
            raise FormatError("fountain part checksum is not a 32-bit value")
        if not 1 <= len(self.data) <= self.message_len:
            raise FormatError("fountain part fragment length does not fit its message length")
        if self.seq_len != -(-self.message_len // len(self.data)):
            raise FormatError("fountain part sequence length does not match its message and fragment lengths")
        if self.seq_len > MAX_SEQ_LEN:
            raise FormatError(f"fountain part splits its message into more than {MAX_SEQ_LEN} fragments")

    @property
    def indexes(self) -> frozenset[int]:
        """The fragments this part combines."""
        return choose_fragments(self.seq_num, self.seq_len, self.checksum)

    def to_cbor(self) -> bytes:
        return b"".join(
            (
                cbor.encode_array_header(5),
                cbor.encode_uint(self.seq_num),
                cbor.encode_uint(self.seq_len),
                cbor.encode_uint(self.message_len),
                cbor.encode_uint(self.checksum),
                cbor.encode_byte_string(self.data),
            )
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> Part:
        """Strictly parse a part; raises ``FormatError`` on anything malformed or inconsistent."""
        reader = cbor.CborReader(data, "UR frame body")
        if reader.read_array_header(5) != 5:
            raise FormatError("UR frame body is malformed: a fountain part is an array of 5 items")
        seq_num = reader.read_uint(_UINT32_MAX)
        seq_len = reader.read_uint(MAX_SEQ_LEN)
        message_len = reader.read_uint(MAX_MESSAGE_LEN)
        checksum = reader.read_uint(_UINT32_MAX)
        fragment = reader.read_bytes(MAX_MESSAGE_LEN)
        reader.finish()
        return cls(seq_num, seq_len, message_len, checksum, fragment)


class FountainEncoder:
    """Emits parts for one message: ``seq_len`` pure parts, then as many mixed parts as asked for."""

    def __init__(
        self,
        message: bytes,
        max_fragment_len: int,
        *,
        min_fragment_len: int = DEFAULT_MIN_FRAGMENT_LEN,
        first_seq_num: int = 0,
    ) -> None:
        if not 1 <= len(message) <= MAX_MESSAGE_LEN:
            raise ValueError(f"fountain messages are 1..{MAX_MESSAGE_LEN} bytes")
        self.message_len = len(message)
        self.checksum = crc32(message)
        self.fragment_len = find_nominal_fragment_length(
            self.message_len, min(min_fragment_len, max_fragment_len), max_fragment_len
        )
        self._fragments = partition_message(bytes(message), self.fragment_len)
        self.seq_num = first_seq_num

    @property
    def seq_len(self) -> int:
        return len(self._fragments)

    @property
    def is_complete(self) -> bool:
        """True once every pure part has been emitted (a reader that got them all can finish)."""
        return self.seq_num >= self.seq_len

    def next_part(self) -> Part:
        # The sequence number wraps at 2^32 like the reference; zero is skipped, it is never valid.
        self.seq_num = self.seq_num % _UINT32_MAX + 1
        indexes = choose_fragments(self.seq_num, self.seq_len, self.checksum)
        mixed = bytes(self.fragment_len)
        for index in indexes:
            mixed = _xor(mixed, self._fragments[index])
        return Part(self.seq_num, self.seq_len, self.message_len, self.checksum, mixed)


@dataclass(frozen=True)
class MessageId:
    """What every part of one message shares; parts that differ here belong to another message."""

    seq_len: int
    message_len: int
    checksum: int
    fragment_len: int

    def describe(self) -> str:
        return (
            f"checksum {self.checksum:08x}, {self.message_len} bytes in {self.seq_len} fragments "
            f"of {self.fragment_len}"
        )


class FountainDecoder:
    """Collects parts of one message in any order and reassembles it.

    Each received part is one equation "XOR of these fragments = data" over GF(2). Rows are kept in
    echelon form keyed by their lowest fragment index; the message is known once there is one row
    per fragment. Duplicates and parts that add nothing new are ignored; a part from a different
    message (another checksum, length or fragment count) raises ``FormatError`` naming both.
    """

    def __init__(self) -> None:
        self._id: MessageId | None = None
        # pivot -> (bitmask of fragment indexes, XOR of their data as an integer)
        self._rows: dict[int, tuple[int, int]] = {}
        self._result: bytes | None = None

    @property
    def message_id(self) -> MessageId | None:
        return self._id

    @property
    def fragments_known(self) -> int:
        """Rank reached so far (number of independent parts); the message needs ``seq_len``."""
        return len(self._rows)

    @property
    def is_complete(self) -> bool:
        return self._result is not None

    @property
    def result(self) -> bytes:
        if self._result is None:
            raise FormatError("the message is not complete yet; scan more frames")
        return self._result

    def receive(self, part: Part) -> bool:
        """Add a part; return True if it brought new information."""
        part_id = MessageId(part.seq_len, part.message_len, part.checksum, len(part.data))
        if self._id is None:
            self._id = part_id
        elif part_id != self._id:
            raise FormatError(
                f"frame {part.seq_num}-{part.seq_len} belongs to a different message "
                f"({part_id.describe()}) than the frames already read ({self._id.describe()}); "
                "scan one message at a time"
            )
        if self._result is not None:
            return False
        mask = 0
        for index in part.indexes:
            mask |= 1 << index
        value = int.from_bytes(part.data, "big")
        while mask:
            pivot = (mask & -mask).bit_length() - 1
            row = self._rows.get(pivot)
            if row is None:
                self._rows[pivot] = (mask, value)
                if len(self._rows) == part.seq_len:
                    self._result = self._solve()
                return True
            mask ^= row[0]
            value ^= row[1]
        if value:
            # The part is implied by earlier ones yet disagrees with them: corrupted or forged.
            raise FormatError(
                f"frame {part.seq_num}-{part.seq_len} contradicts the frames already read; "
                "the frames are corrupted, re-scan them"
            )
        return False

    def _solve(self) -> bytes:
        assert self._id is not None
        seq_len, fragment_len = self._id.seq_len, self._id.fragment_len
        solved: list[int] = [0] * seq_len
        # Every row's other bits sit above its pivot, so solving from the top down needs only
        # fragments that are already known.
        for pivot in range(seq_len - 1, -1, -1):
            mask, value = self._rows[pivot]
            rest = mask & ~(1 << pivot)
            while rest:
                low = rest & -rest
                value ^= solved[low.bit_length() - 1]
                rest ^= low
            solved[pivot] = value
        joined = b"".join(v.to_bytes(fragment_len, "big") for v in solved)
        message, padding = joined[: self._id.message_len], joined[self._id.message_len :]
        if padding.strip(b"\x00"):
            raise FormatError("reassembled message has non-zero padding; the frames are corrupted")
        if crc32(message) != self._id.checksum:
            raise FormatError(
                "reassembled message fails its checksum; the frames are corrupted, re-scan them"
            )
        return message
