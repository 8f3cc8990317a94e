"""Arithmetic modulo FIELD_PRIME and EC_ORDER that the curve library does not offer.

Python's three-argument ``pow`` already computes inverses (``pow(a, -1, m)``) in C; only the square
root needs an algorithm of its own. FIELD_PRIME - 1 = 2**192 · odd, so the shortcuts for primes
p ≡ 3 (mod 4) do not apply.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.stark.constants import FIELD_PRIME


def div_mod(numerator: int, denominator: int, modulus: int) -> int:
    """Return x in [0, modulus) with denominator · x ≡ numerator; the modulus must be prime."""
    if denominator % modulus == 0:
        raise InputError("cannot divide by a multiple of the modulus; the value must be non-zero")
    return numerator * pow(denominator, -1, modulus) % modulus


def is_quad_residue(value: int) -> bool:
    """True if ``value`` is a square modulo FIELD_PRIME (zero counts, as in sympy)."""
    value %= FIELD_PRIME
    return value == 0 or pow(value, (FIELD_PRIME - 1) // 2, FIELD_PRIME) == 1


def sqrt_mod(value: int) -> int:
    """Return the smaller of the two square roots of ``value`` modulo FIELD_PRIME.

    The smaller root is cairo-lang's choice (it takes ``min`` of sympy's roots), which makes the
    y coordinate that ``get_y_coordinate`` returns for a STARK key reproducible.
    Raises InputError if ``value`` is not a square.
    """
    value %= FIELD_PRIME
    if value == 0:
        return 0
    if not is_quad_residue(value):
        raise InputError("value has no square root modulo FIELD_PRIME")
    # Cipolla: with d = a² - value a non-residue, (a + ω)^((p+1)/2) is a root in the field
    # F_p[ω]/(ω² - d). Its cost is one exponentiation, whereas Tonelli–Shanks would pay up to
    # 192² squarings for this prime's 2-adicity of 192. The first suitable a is taken, so the
    # function is deterministic (and min() makes the choice of root irrelevant anyway).
    base = 1
    while is_quad_residue(base * base - value):
        base += 1
    non_residue = (base * base - value) % FIELD_PRIME
    # root = real + imag·ω; start from (a + ω) and exponentiate left to right.
    real, imag = base, 1
    exponent = (FIELD_PRIME + 1) // 2
    for bit in bin(exponent)[3:]:
        real, imag = (real * real + imag * imag * non_residue) % FIELD_PRIME, 2 * real * imag % FIELD_PRIME
        if bit == "1":
            real, imag = (real * base + imag * non_residue) % FIELD_PRIME, (real + imag * base) % FIELD_PRIME
    return min(real, FIELD_PRIME - real)
