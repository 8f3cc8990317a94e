"""Points of the STARK curve: membership, y from x, and scalar multiplication on fastecdsa.

Two kinds of multiplication live here:

* ``multiply`` — plain k·P for private keys and nonces, done inside fastecdsa's compiled code.
* ``air_multiply`` — cairo-lang's ``mimic_ec_mult_air``: m·P + shift by affine double-and-add that
  gives up (``AirCollision``) whenever an addition would meet two points with the same x. The
  StarkEx AIR cannot represent those additions, so cairo-lang rejects such signatures even when
  plain ECDSA arithmetic would accept them, and so must we. The steps are fastecdsa additions
  in projective coordinates; only the x comparison is done here, by cross-multiplication.
"""

from __future__ import annotations

from typing import Final

from fastecdsa.rust import Curve, Point

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.stark._checks import require_int
from dydx_airgap.shared.stark.constants import (
    ALPHA,
    BETA,
    EC_GEN,
    EC_ORDER,
    FIELD_PRIME,
    N_ELEMENT_BITS_ECDSA,
    ECPoint,
)
from dydx_airgap.shared.stark.field import is_quad_residue, sqrt_mod

STARK_CURVE: Final = Curve("stark", FIELD_PRIME, ALPHA, BETA, EC_ORDER, EC_GEN[0], EC_GEN[1])
"""The curve as a fastecdsa object, with EC_GEN as its base point."""


class InvalidPublicKeyError(InputError):
    """The integer given as a STARK key is not the x coordinate of any curve point."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "the STARK key is not the x coordinate of a point on the STARK curve; check the key"
        )


class AirCollision(Exception):  # an internal signal, never shown to a person
    """An addition the StarkEx AIR cannot perform (both operands share their x coordinate)."""


def is_point_on_curve(x: int, y: int) -> bool:
    """True if (x, y) satisfies the curve equation modulo FIELD_PRIME."""
    return pow(y, 2, FIELD_PRIME) == (pow(x, 3, FIELD_PRIME) + ALPHA * x + BETA) % FIELD_PRIME


def get_y_coordinate(stark_key_x_coordinate: int) -> int:
    """Return a y such that (x, y) is on the curve: the smaller root, as cairo-lang picks it.

    The point that produced the key has either this y or FIELD_PRIME - y. Raises
    InvalidPublicKeyError if x is not below FIELD_PRIME or no point has this x.
    """
    x = require_int(stark_key_x_coordinate, "STARK key")
    if not 0 <= x < FIELD_PRIME:
        raise InvalidPublicKeyError("the STARK key must be below FIELD_PRIME; check the key")
    y_squared = (x * x * x + ALPHA * x + BETA) % FIELD_PRIME
    if not is_quad_residue(y_squared):
        raise InvalidPublicKeyError()
    return sqrt_mod(y_squared)


def to_fastecdsa(point: ECPoint) -> Point:
    """An affine fastecdsa point; fastecdsa itself refuses pairs that are not on the curve."""
    return Point(point[0], point[1], STARK_CURVE)


def to_affine(point: Point) -> ECPoint:
    """(x, y) of a fastecdsa point, affine or projective; never called on the point at infinity."""
    if point.z != 1:
        point = point.normalize()
    return point.x, point.y


def multiply(scalar: int, point: ECPoint) -> ECPoint:
    """scalar · point for 0 < scalar < EC_ORDER (the result is then never the point at infinity)."""
    return to_affine(scalar * to_fastecdsa(point))


def projective(point: ECPoint) -> Point:
    """A projective fastecdsa point: its additions skip the field inversion affine ones need."""
    return Point(point[0], point[1], STARK_CURVE, projective=True)


def same_x(first: Point, second: Point) -> bool:
    """True if two finite projective points (X:Y:Z), x = X/Z, have the same affine x."""
    return (first.x * second.z - second.x * first.z) % FIELD_PRIME == 0


def add_distinct(first: Point, second: Point) -> Point:
    """first + second as the AIR adds: refused (AirCollision) when the x coordinates are equal."""
    if same_x(first, second):
        raise AirCollision
    return first + second


def air_multiply(multiplier: int, point: Point, shift: Point) -> Point:
    """multiplier · point + shift by the AIR's 251-step double-and-add (cairo's mimic_ec_mult_air).

    Every step first compares the x of the running sum with the x of the current doubling, whether
    or not that doubling is added: that is the AIR's condition, and it is what makes a crafted
    signature fail here exactly as it fails in cairo-lang. Raises AirCollision instead of asserting.
    """
    if not 0 < multiplier < 2**N_ELEMENT_BITS_ECDSA:
        raise AirCollision
    partial_sum = shift
    # X and Z of the running sum change only when a doubling is added: keep them as Python ints.
    sum_x, sum_z = partial_sum.x, partial_sum.z
    for _ in range(N_ELEMENT_BITS_ECDSA):
        if (sum_x * point.z - point.x * sum_z) % FIELD_PRIME == 0:
            raise AirCollision
        if multiplier & 1:
            partial_sum = partial_sum + point
            sum_x, sum_z = partial_sum.x, partial_sum.z
        point = point + point
        multiplier >>= 1
    return partial_sum


def mimic_ec_mult_air(m: int, point: ECPoint, shift_point: ECPoint) -> ECPoint:
    """cairo-lang's helper with affine inputs and output; raises AirCollision where it asserts."""
    return to_affine(air_multiply(m, projective(point), projective(shift_point)))
