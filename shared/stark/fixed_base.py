"""k·G for many keys at once: a precomputed table of multiples of the generator.

``recover`` computes six public keys for every account it tries (thousands per search), and ``derive``
one per account; fastecdsa's general scalar multiplication, about a millisecond each, dominated both. Since
the base is always EC_GEN, the multiples ``d · 2^(8i) · G`` (d < 256, i < 32) can be computed once (about
8,000 projective additions, a few hundredths of a second) and each k·G becomes at most 31 projective
additions of table entries plus one normalisation: about ten times faster. All arithmetic is still
fastecdsa's; this module only chooses which points to add.

Exactness: the plain projective sum is wrong only when its two points have the same x (a doubling, or
P + (−P)); no addition made here is such a case, so none needs a check.

* Building row i (base B = 2^(8i)·G): 2B is fastecdsa's affine doubling; then d·B + B for 2 ≤ d ≤ 255
  (the last one gives the next row's base 256·B) adds points whose scalars d·2^(8i) and 2^(8i) are
  neither equal nor opposite modulo the group order n: that would need the prime n to divide
  (d ∓ 1)·2^(8i), and n is odd and larger than d + 1.
* Multiplying 0 < k < n: after the windows below i the running sum is s·G with s the integer those
  windows of k spell, 0 < s < 2^(8i); the entry added is t·G with t = d·2^(8i) ≥ 2^(8i) > s, and
  s + t ≤ k < n. So s ≢ t (0 < s < t < n) and s ≢ −t (0 < s + t < n) modulo n: never the same x.

Tests compare the table with fastecdsa's multiplication on random and on edge-case scalars.

The table is a cache of *public* points. Which entries a key selects depends on the key, as in any
windowed method (and as fastecdsa's GMP arithmetic is not constant time either): use it on the cold
machine, which runs nothing else, not on a shared host.
"""

from __future__ import annotations

from functools import cache

from fastecdsa.rust import Point

from dydx_airgap.shared.stark._checks import require_private_key
from dydx_airgap.shared.stark.constants import EC_GEN, ECPoint
from dydx_airgap.shared.stark.curve import projective, to_affine, to_fastecdsa

WINDOW_BITS = 8
_WINDOWS = 32  # 32 windows of 8 bits cover every scalar below EC_ORDER < 2^252
_MASK = (1 << WINDOW_BITS) - 1


class GeneratorTable:
    """Multiples of EC_GEN: ``rows[i][d] = d · 2^(8i) · G`` in projective coordinates (``rows[i][0]``
    unused)."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        rows: list[list[Point]] = []
        base = to_fastecdsa(EC_GEN)  # affine 2^(8i)·G
        for _ in range(_WINDOWS):
            step = projective((base.x, base.y))
            double = base + base  # affine doubling: the one case a projective sum must not be given
            multiple = projective((double.x, double.y))
            row = [step, step, multiple]  # digit 0 is a placeholder, never added
            for _digit in range(3, 1 << WINDOW_BITS):
                multiple = multiple + step  # distinct, non-opposite points: see the module docstring
                row.append(multiple)
            rows.append(row)
            x, y = to_affine(multiple + step)  # 256 · 2^(8i)·G, the next row's base
            base = to_fastecdsa((x, y))
        self._rows = rows

    def multiply(self, scalar: int) -> ECPoint:
        """scalar · EC_GEN for 0 < scalar < EC_ORDER, equal to ``curve.multiply(scalar, EC_GEN)``."""
        remaining = require_private_key(scalar)
        total: Point | None = None
        for row in self._rows:
            digit = remaining & _MASK
            remaining >>= WINDOW_BITS
            if digit:
                # Never two points of the same x (module docstring): the projective sum is exact.
                total = row[digit] if total is None else total + row[digit]
            if not remaining:
                break
        assert total is not None  # k > 0 has a non-zero digit
        return to_affine(total)


@cache
def generator_table() -> GeneratorTable:
    """The process's one table, built on first use (forked workers inherit it)."""
    return GeneratorTable()
