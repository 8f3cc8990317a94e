"""StarkWare's Pedersen hash of up to two field elements, and its table of constant points.

H(a, b) = x of [SHIFT + a_low·P0 + a_high·P1 + b_low·P2 + b_high·P3], where a_low is the low 248
bits of a and a_high its top 4 bits. cairo-lang evaluates it bit by bit against a table of the
doublings 2^j·P_i and refuses ("unhashable input") whenever the running sum shares its x with the
table entry of the current bit, added or not; we keep that exact rule, so our hash fails on the
same inputs. Such inputs would expose a discrete-log relation between the constant points, so none
is known.

The table (``CONSTANT_POINTS``, 506 points) is rebuilt from the four base points on first use rather
than shipped: the doubling chains are how StarkWare generated it, and the cross-check compares
every entry with cairo-lang's ``pedersen_params.json``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import overload

from fastecdsa.rust import Point

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.stark._checks import require_range
from dydx_airgap.shared.stark.constants import (
    EC_GEN,
    FIELD_PRIME,
    N_CONSTANT_POINTS,
    N_ELEMENT_BITS_HASH,
    PEDERSEN_BASE_POINTS,
    PEDERSEN_LOW_PART_BITS,
    PEDERSEN_MAX_ELEMENTS,
    SHIFT_POINT,
    ECPoint,
)
from dydx_airgap.shared.stark.curve import projective, to_affine, to_fastecdsa


def _doublings(base: ECPoint, count: int) -> list[ECPoint]:
    """[base, 2·base, 4·base, ...] (``count`` points), doubled projectively, normalised once each."""
    chain = []
    point = projective(base)
    for _ in range(count):
        chain.append(to_affine(point))
        point = point + point
    return chain


@functools.cache
def _hash_table() -> tuple[ECPoint, ...]:
    """The 504 doublings, input by input: low-part chain of 248 then high-part chain of 4."""
    high_part_bits = N_ELEMENT_BITS_HASH - PEDERSEN_LOW_PART_BITS
    table: list[ECPoint] = []
    for low_base, high_base in zip(PEDERSEN_BASE_POINTS[0::2], PEDERSEN_BASE_POINTS[1::2], strict=True):
        table += _doublings(low_base, PEDERSEN_LOW_PART_BITS)
        table += _doublings(high_base, high_part_bits)
    return tuple(table)


@functools.cache
def _hash_table_for_adding() -> tuple[tuple[int, Point], ...]:
    """Each table entry as (x, affine fastecdsa point): the x for the AIR check, the point to add."""
    return tuple((point[0], to_fastecdsa(point)) for point in _hash_table())


class _ConstantPoints(Sequence[ECPoint]):
    """cairo-lang's CONSTANT_POINTS list: [SHIFT_POINT, EC_GEN, 504 hash points], built on demand."""

    def __len__(self) -> int:
        return N_CONSTANT_POINTS

    @staticmethod
    @functools.cache
    def _points() -> tuple[ECPoint, ...]:
        return (SHIFT_POINT, EC_GEN, *_hash_table())

    @overload
    def __getitem__(self, index: int) -> ECPoint: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[ECPoint, ...]: ...
    def __getitem__(self, index: int | slice) -> ECPoint | tuple[ECPoint, ...]:
        return self._points()[index]

    def __iter__(self) -> Iterator[ECPoint]:
        return iter(self._points())

    def __repr__(self) -> str:
        return f"<{N_CONSTANT_POINTS} STARK constant points>"


CONSTANT_POINTS: Sequence[ECPoint] = _ConstantPoints()


def pedersen_hash_as_point(*elements: int) -> ECPoint:
    """The curve point whose x is ``pedersen_hash(*elements)``; at most two field elements."""
    if len(elements) > PEDERSEN_MAX_ELEMENTS:
        raise InputError("the STARK Pedersen hash takes at most 2 elements; hash longer input in a chain")
    values = [
        require_range(
            element, 0, FIELD_PRIME, "Pedersen input", "must be a field element (below FIELD_PRIME)"
        )
        for element in elements
    ]
    table = _hash_table_for_adding()
    partial_sum = projective(SHIFT_POINT)
    sum_x, sum_z = partial_sum.x, partial_sum.z
    for index, value in enumerate(values):
        for table_x, table_point in table[index * N_ELEMENT_BITS_HASH : (index + 1) * N_ELEMENT_BITS_HASH]:
            # Affine x equality against the projective sum X/Z, as the AIR requires (see module doc).
            if (sum_x - table_x * sum_z) % FIELD_PRIME == 0:
                raise InputError("this input cannot be hashed: the StarkEx AIR rejects it (unhashable input)")
            if value & 1:
                partial_sum = partial_sum + table_point
                sum_x, sum_z = partial_sum.x, partial_sum.z
            value >>= 1
    return to_affine(partial_sum)


def pedersen_hash(*elements: int) -> int:
    """StarkWare's Pedersen hash of up to two field elements (x of ``pedersen_hash_as_point``)."""
    return pedersen_hash_as_point(*elements)[0]
