"""Xoshiro256** and the alias-method sampler that the fountain code uses to pick fragments.

Encoder and decoder must agree, bit for bit, on which fragments a mixed part carries; BCR-2020-005
fixes that choice to Xoshiro256** seeded from a SHA-256 digest and a Walker-Vose alias sampler fed by
its ``next_double``. Nothing here is meant to be unpredictable: it is a shared deterministic schedule,
not a source of secrets (those come from ``secrets``/``os.urandom``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = ["AliasSampler", "Xoshiro256"]

_MASK64 = (1 << 64) - 1
# 2**64 as a double: next() / 2**64 maps the 64-bit output onto [0, 1] as the reference does.
_TWO_POW_64 = float(1 << 64)


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (64 - shift))) & _MASK64


class Xoshiro256:
    """The xoshiro256** 1.0 generator (Blackman & Vigna) over a 4 x 64-bit state."""

    __slots__ = ("_s",)

    def __init__(self, state: Sequence[int]) -> None:
        if len(state) != 4 or any(not 0 <= word <= _MASK64 for word in state):
            raise ValueError("Xoshiro256 state is four unsigned 64-bit words")
        self._s = [int(word) for word in state]

    @classmethod
    def from_digest(cls, digest: bytes) -> Xoshiro256:
        """State from 32 bytes read as four big-endian 64-bit words."""
        if len(digest) != 32:
            raise ValueError("Xoshiro256 seed is 32 bytes")
        return cls([int.from_bytes(digest[i : i + 8], "big") for i in range(0, 32, 8)])

    @classmethod
    def from_seed(cls, seed: bytes) -> Xoshiro256:
        """State from SHA-256(seed): how the UR fountain code seeds every mixed part."""
        return cls.from_digest(hashlib.sha256(seed).digest())

    @classmethod
    def from_crc32(cls, checksum: int) -> Xoshiro256:
        """State from SHA-256 of a CRC-32 written as four big-endian bytes (a reference test seed)."""
        return cls.from_seed(checksum.to_bytes(4, "big"))

    def next(self) -> int:
        """The next 64-bit output."""
        s = self._s
        result = (_rotl((s[1] * 5) & _MASK64, 7) * 9) & _MASK64
        t = (s[1] << 17) & _MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def next_double(self) -> float:
        """``next() / 2**64`` in double precision (may round up to exactly 1.0, as the reference does)."""
        return self.next() / _TWO_POW_64

    def next_int(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` scaled from ``next_double`` (the reference method; not unbiased)."""
        return int(self.next_double() * (high - low + 1)) + low

    def next_byte(self) -> int:
        return self.next_int(0, 255) & 0xFF

    def next_data(self, count: int) -> bytes:
        """``count`` bytes from ``next_byte`` (the reference test suite builds its messages this way)."""
        return bytes(self.next_byte() for _ in range(count))


class AliasSampler:
    """Walker-Vose alias sampler over a fixed list of non-negative weights.

    Built the way the reference implementations build it (small/large work lists filled from the
    highest index down), because the tables, not just the distribution, must match theirs.
    """

    __slots__ = ("_aliases", "_probs")

    def __init__(self, weights: Sequence[float]) -> None:
        if not weights or any(w < 0 for w in weights):
            raise ValueError("sampler weights are a non-empty list of non-negative numbers")
        total = sum(weights)
        if total <= 0:
            raise ValueError("sampler weights must not all be zero")
        count = len(weights)
        scaled = [w * count / total for w in weights]
        small: list[int] = []
        large: list[int] = []
        for index in range(count - 1, -1, -1):
            (small if scaled[index] < 1 else large).append(index)
        probs = [0.0] * count
        aliases = [0] * count
        while small and large:
            less = small.pop()
            more = large.pop()
            probs[less] = scaled[less]
            aliases[less] = more
            scaled[more] += scaled[less] - 1
            (small if scaled[more] < 1 else large).append(more)
        # Whatever is left holds (up to rounding) probability one.
        for index in large + small:
            probs[index] = 1.0
        self._probs = probs
        self._aliases = aliases

    def next(self, next_double: Callable[[], float]) -> int:
        """Draw an index using two values from ``next_double``."""
        r1 = next_double()
        r2 = next_double()
        count = len(self._probs)
        # next_double can round up to 1.0 (odds about 2**-53); clamp rather than index past the end.
        index = min(int(count * r1), count - 1)
        return index if r2 < self._probs[index] else self._aliases[index]
