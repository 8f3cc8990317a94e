"""StarkEx ECDSA: signing and verification with cairo-lang's rules.

StarkEx's ECDSA differs from the textbook scheme in ways that change which signatures exist:

* r is the x coordinate of k·G itself, not reduced modulo EC_ORDER;
* the message hash, r and w = s⁻¹ must all be below 2**251, so that the AIR can handle them; a
  signer that draws a k breaking this simply draws again (seed + 1);
* verification computes w·(z·G + r·Q) through the AIR's double-and-add (see ``curve.air_multiply``),
  so a signature whose computation meets an addition the AIR cannot do is invalid.

Malformed input raises (InputError for hashes and keys, SignatureError for r and s), as cairo-lang's
asserts do; a well-formed signature that does not match returns False.
"""

from __future__ import annotations

from collections.abc import Sequence

from dydx_airgap.shared.errors import InputError, SignatureError
from dydx_airgap.shared.stark._checks import (
    require_field_pair,
    require_int,
    require_private_key,
    require_range,
)
from dydx_airgap.shared.stark.constants import (
    EC_GEN,
    EC_ORDER,
    FIELD_PRIME,
    MINUS_SHIFT_POINT,
    N_ELEMENT_BITS_ECDSA,
    SHIFT_POINT,
    ECPoint,
)
from dydx_airgap.shared.stark.curve import (
    AirCollision,
    InvalidPublicKeyError,
    add_distinct,
    air_multiply,
    get_y_coordinate,
    is_point_on_curve,
    multiply,
    projective,
    to_affine,
)
from dydx_airgap.shared.stark.field import div_mod
from dydx_airgap.shared.stark.rfc6979 import generate_k_rfc6979

ECSignature = tuple[int, int]
"""(r, s)."""

_SIGNABLE_BOUND = 2**N_ELEMENT_BITS_ECDSA


def inv_mod_curve_size(x: int) -> int:
    """x⁻¹ modulo EC_ORDER; x must not be a multiple of EC_ORDER."""
    return div_mod(1, require_int(x, "value to invert"), EC_ORDER)


def sign(msg_hash: int, priv_key: int, seed: int | None = None) -> ECSignature:
    """Sign ``msg_hash`` (1 <= msg_hash < 2**251) and return (r, s), byte-identical to cairo-lang.

    The nonce is RFC 6979's; ``seed`` is mixed in as extra data. When a nonce gives an r or w that
    StarkEx cannot use (about 2**-55 likely each), the next nonce is derived with seed + 1 (no
    seed counts as 0), exactly as cairo-lang retries, so even those rare signatures match.
    """
    msg_hash = require_range(
        msg_hash, 0, _SIGNABLE_BOUND, "message hash", "must be below 2**251 to be signed"
    )
    priv_key = require_private_key(priv_key)
    while True:
        nonce = generate_k_rfc6979(msg_hash, priv_key, seed)
        seed = 1 if seed is None else seed + 1

        r = multiply(nonce, EC_GEN)[0]
        if not 1 <= r < _SIGNABLE_BOUND:
            continue
        denominator = (msg_hash + r * priv_key) % EC_ORDER
        if denominator == 0:
            continue
        w = div_mod(nonce, denominator, EC_ORDER)
        if not 1 <= w < _SIGNABLE_BOUND:
            continue
        return r, inv_mod_curve_size(w)


def verify(msg_hash: int, r: int, s: int, public_key: int | ECPoint) -> bool:
    """True if (r, s) signs ``msg_hash`` under ``public_key``: a STARK key (x only) or a point.

    Given only x, both points with that x are tried, as in cairo-lang. An x that is on no point
    gives False; a point that is not on the curve raises InputError.
    """
    s = require_range(s, 1, EC_ORDER, "signature s", "must be in [1, EC_ORDER)", SignatureError)
    w = inv_mod_curve_size(s)
    r = require_range(r, 1, _SIGNABLE_BOUND, "signature r", "must be in [1, 2**251)", SignatureError)
    if not 1 <= w < _SIGNABLE_BOUND:
        raise SignatureError("signature s is not in StarkEx form: its inverse must be below 2**251")
    msg_hash = require_range(msg_hash, 0, _SIGNABLE_BOUND, "message hash", "must be below 2**251")

    if isinstance(public_key, int) and not isinstance(public_key, bool):
        try:
            y = get_y_coordinate(public_key)
        except InvalidPublicKeyError:
            return False
        return _verify_with_point(msg_hash, r, w, (public_key, y)) or _verify_with_point(
            msg_hash, r, w, (public_key, FIELD_PRIME - y)
        )

    if not isinstance(public_key, Sequence):
        raise InputError("public key must be a STARK key (int) or an (x, y) point")
    point = require_field_pair(public_key, "public key")
    if not is_point_on_curve(*point):
        raise InputError("public key point is not on the STARK curve; check both coordinates")
    return _verify_with_point(msg_hash, r, w, point)


def _verify_with_point(msg_hash: int, r: int, w: int, public_key: ECPoint) -> bool:
    # The AIR's order of operations: x(w·(z·G + r·Q)), each product offset by the shift point so
    # that no intermediate sum is the point at infinity.
    minus_shift = projective(MINUS_SHIFT_POINT)
    shift = projective(SHIFT_POINT)
    try:
        z_g = air_multiply(msg_hash, projective(EC_GEN), minus_shift)
        r_q = air_multiply(r, projective(public_key), shift)
        w_b = air_multiply(w, add_distinct(z_g, r_q), shift)
        x = to_affine(add_distinct(w_b, minus_shift))[0]
    except AirCollision:
        return False
    # Unlike textbook ECDSA, x is compared with r as is, not reduced modulo EC_ORDER.
    return r == x
