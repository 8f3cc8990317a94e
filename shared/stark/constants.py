"""Parameters of the STARK curve and the points StarkWare derived from the digits of pi.

The curve is y² = x³ + ALPHA·x + BETA over the prime field of FIELD_PRIME elements; its group has
prime order EC_ORDER. Only the six points that cannot be derived are written here: the shift point,
the ECDSA generator and the four Pedersen base points. Pedersen's 504-entry table of doublings is
rebuilt from the base points on first use (see ``pedersen.py``); the cross-check script compares the
rebuilt table, entry by entry, with cairo-lang's ``pedersen_params.json``.
"""

from __future__ import annotations

from typing import Final

ECPoint = tuple[int, int]
"""An affine point (x, y) of the STARK curve, both coordinates reduced modulo FIELD_PRIME."""

FIELD_PRIME: Final = 2**251 + 17 * 2**192 + 1
# 3 generates the multiplicative group of the field, so it is a quadratic non-residue: the square
# root below relies on that.
FIELD_GEN: Final = 3

ALPHA: Final = 1
BETA: Final = 0x06F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
EC_ORDER: Final = 0x0800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F

# Message hashes, r and s⁻¹ must be below 2**251 (a StarkEx rule, stricter than classic ECDSA).
N_ELEMENT_BITS_ECDSA: Final = 251
# A Pedersen input is a field element: 252 bits.
N_ELEMENT_BITS_HASH: Final = FIELD_PRIME.bit_length()

SHIFT_POINT: Final[ECPoint] = (
    0x049EE3EBA8C1600700EE1B87EB599F16716B0B1022947733551FDE4050CA6804,
    0x03CA0CFE4B3BC6DDF346D49D06EA0ED34E621062C0E056C1D0405D266E10268A,
)
MINUS_SHIFT_POINT: Final[ECPoint] = (SHIFT_POINT[0], FIELD_PRIME - SHIFT_POINT[1])

EC_GEN: Final[ECPoint] = (
    0x01EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA,
    0x005668060AA49730B7BE4801DF46EC62DE53ECD11ABE43A32873000C36E8DC1F,
)

# Pedersen hashes each input as a 248-bit low part and a 4-bit high part, each against its own base
# point: (input 0 low, input 0 high, input 1 low, input 1 high).
PEDERSEN_LOW_PART_BITS: Final = 248
PEDERSEN_BASE_POINTS: Final[tuple[ECPoint, ECPoint, ECPoint, ECPoint]] = (
    (
        0x0234287DCBAFFE7F969C748655FCA9E58FA8120B6D56EB0C1080D17957EBE47B,
        0x03B056F100F96FB21E889527D41F4E39940135DD7A6C94CC6ED0268EE89E5615,
    ),
    (
        0x04FA56F376C83DB33F9DAB2656558F3399099EC1DE5E3018B7A6932DBA8AA378,
        0x03FA0984C931C9E38113E0C0E47E4401562761F92A7A23B45168F4E80FF5B54D,
    ),
    (
        0x04BA4CC166BE8DEC764910F75B45F74B40C690C74709E90F3AA372F0BD2D6997,
        0x0040301CF5C1751F4B971E46C4EDE85FCAC5C59A5CE5AE7C48151F27B24B219C,
    ),
    (
        0x054302DCB0E6CC1C6E44CCA8F61A63BB2CA65048D53FB325D36FF12C49A58202,
        0x01B77B3E37D13504B348046268D8AE25CE98AD783C25561A879DCC77E99C2426,
    ),
)
# The table holds the shift point, the ECDSA generator, then 252 doublings per hashable input.
PEDERSEN_MAX_ELEMENTS: Final = 2
N_CONSTANT_POINTS: Final = 2 + PEDERSEN_MAX_ELEMENTS * N_ELEMENT_BITS_HASH
