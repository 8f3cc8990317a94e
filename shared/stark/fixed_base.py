"""k·G for many keys at once: a precomputed table of multiples of the generator.

``recover`` computes six public keys for every account it tries (thousands per search); fastecdsa's
general scalar multiplication, about a millisecond each, dominated it. Since the base is always EC_GEN,
the multiples ``d · 2^(8i) · G`` (d < 256, i < 32) can be computed once (about 8,000 additions, a tenth
of a second) and each k·G becomes at most 31 projective additions of table entries plus one
normalisation: about ten times faster. All arithmetic is still fastecdsa's; this module only chooses which
points to add.

Exactness: an addition of two points with the same x (doubling, or P + (−P)) is the one case the plain
projective sum must not be trusted with, so such a step falls back to fastecdsa's own multiplication for
that key. It happens with probability about 2^-240 per key; tests compare the table with fastecdsa's
multiplication on random and on edge-case scalars.

The table is a cache of *public* points. Which entries a key selects depends on the key, as in any
windowed method (and as fastecdsa's GMP arithmetic is not constant time either): use it on the cold
machine, which runs nothing else, not on a shared host.
"""

from __future__ import annotations

from functools import cache

from fastecdsa.rust import Point

from dydx_airgap.shared.stark._checks import require_private_key
from dydx_airgap.shared.stark.constants import EC_GEN, ECPoint
from dydx_airgap.shared.stark.curve import multiply, projective, same_x, to_affine, to_fastecdsa

WINDOW_BITS = 8
_WINDOWS = 32  # 32 windows of 8 bits cover every scalar below EC_ORDER < 2^252
_MASK = (1 << WINDOW_BITS) - 1


class GeneratorTable:
    """Multiples of EC_GEN: ``rows[i][d] = d · 2^(8i) · G`` in projective coordinates (``rows[i][0]``
    unused)."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        rows: list[list[Point]] = []
        base = to_fastecdsa(EC_GEN)
        for _ in range(_WINDOWS):
            row = [base]  # placeholder at digit 0, never added
            multiple = base
            row.append(projective((multiple.x, multiple.y)))
            for _digit in range(2, 1 << WINDOW_BITS):
                multiple = multiple + base  # affine: exact, and only done once per process
                row.append(projective((multiple.x, multiple.y)))
            rows.append(row)
            base = multiple + base  # 2^8 times the previous base
        self._rows = rows

    def multiply(self, scalar: int) -> ECPoint:
        """scalar · EC_GEN for 0 < scalar < EC_ORDER, equal to ``curve.multiply(scalar, EC_GEN)``."""
        k = require_private_key(scalar)
        remaining = k
        total: Point | None = None
        for row in self._rows:
            digit = remaining & _MASK
            remaining >>= WINDOW_BITS
            if digit:
                entry = row[digit]
                if total is None:
                    total = entry
                elif same_x(total, entry):
                    return multiply(k, EC_GEN)  # doubling or cancellation: let fastecdsa do it
                else:
                    total = total + entry
            if not remaining:
                break
        assert total is not None  # k > 0 has a non-zero digit
        return to_affine(total)


@cache
def generator_table() -> GeneratorTable:
    """The process's one table, built on first use (forked workers inherit it)."""
    return GeneratorTable()
