"""STARK private keys and the public keys (points, and their x: the "STARK key") derived from them."""

from __future__ import annotations

import secrets

from dydx_airgap.shared.stark._checks import require_private_key
from dydx_airgap.shared.stark.constants import EC_GEN, EC_ORDER, ECPoint
from dydx_airgap.shared.stark.curve import InvalidPublicKeyError, get_y_coordinate, multiply


def get_random_private_key() -> int:
    """A uniformly random private key in [1, EC_ORDER), from the operating system's CSPRNG."""
    return secrets.randbelow(EC_ORDER - 1) + 1


def is_valid_stark_private_key(private_key: int) -> bool:
    """True if ``private_key`` is an int in [1, EC_ORDER)."""
    return not isinstance(private_key, bool) and isinstance(private_key, int) and 0 < private_key < EC_ORDER


def private_key_to_ec_point_on_stark_curve(priv_key: int) -> ECPoint:
    """The public point priv_key · EC_GEN, with its true y (dYdX's ``publicKeyYCoordinate``)."""
    return multiply(require_private_key(priv_key), EC_GEN)


def private_to_stark_key(priv_key: int) -> int:
    """The STARK key: the x coordinate of priv_key · EC_GEN."""
    return private_key_to_ec_point_on_stark_curve(priv_key)[0]


def is_valid_stark_key(stark_key: int) -> bool:
    """True if ``stark_key`` is the x coordinate of a curve point (and below FIELD_PRIME)."""
    try:
        get_y_coordinate(stark_key)
    except InvalidPublicKeyError:
        return False
    return True
