"""STARK curve arithmetic and signatures, mirroring cairo-lang's starkware.crypto.signature API.

Names and results follow cairo-lang 0.14.0.1 (``tests/crosscheck`` compares them case by case);
the arithmetic runs on fastecdsa. Differences, all on input cairo-lang would not sensibly accept:
bad input raises our typed errors instead of AssertionError/ValueError, private keys must be in
[1, EC_ORDER) for signing too, keys and point coordinates must be below FIELD_PRIME, and points
come back as tuples (cairo-lang sometimes returns its constant lists).
"""

from dydx_airgap.shared.stark.constants import (
    ALPHA,
    BETA,
    EC_GEN,
    EC_ORDER,
    FIELD_GEN,
    FIELD_PRIME,
    MINUS_SHIFT_POINT,
    N_ELEMENT_BITS_ECDSA,
    N_ELEMENT_BITS_HASH,
    SHIFT_POINT,
    ECPoint,
)
from dydx_airgap.shared.stark.curve import InvalidPublicKeyError, get_y_coordinate, is_point_on_curve
from dydx_airgap.shared.stark.keys import (
    get_random_private_key,
    is_valid_stark_key,
    is_valid_stark_private_key,
    private_key_to_ec_point_on_stark_curve,
    private_to_stark_key,
)
from dydx_airgap.shared.stark.pedersen import CONSTANT_POINTS, pedersen_hash, pedersen_hash_as_point
from dydx_airgap.shared.stark.rfc6979 import generate_k_rfc6979
from dydx_airgap.shared.stark.signature import ECSignature, inv_mod_curve_size, sign, verify

__all__ = [
    "ALPHA",
    "BETA",
    "CONSTANT_POINTS",
    "EC_GEN",
    "EC_ORDER",
    "FIELD_GEN",
    "FIELD_PRIME",
    "MINUS_SHIFT_POINT",
    "N_ELEMENT_BITS_ECDSA",
    "N_ELEMENT_BITS_HASH",
    "SHIFT_POINT",
    "ECPoint",
    "ECSignature",
    "InvalidPublicKeyError",
    "generate_k_rfc6979",
    "get_random_private_key",
    "get_y_coordinate",
    "inv_mod_curve_size",
    "is_point_on_curve",
    "is_valid_stark_key",
    "is_valid_stark_private_key",
    "pedersen_hash",
    "pedersen_hash_as_point",
    "private_key_to_ec_point_on_stark_curve",
    "private_to_stark_key",
    "sign",
    "verify",
]
