"""Deterministic ECDSA nonces (RFC 6979, HMAC-SHA256) exactly as cairo-lang derives them.

cairo-lang feeds python-ecdsa's ``generate_k`` with byte strings of its own making, and those choices
decide the signature bytes, so we reproduce them rather than RFC 6979 in the abstract:

* the message hash is encoded in its minimal number of big-endian bytes (not padded to 32), and,
  to agree with the elliptic.js library, multiplied by 16 first when its bit length is >= 248 and
  1 to 4 bits past a byte boundary;
* the optional seed goes in as RFC 6979's "additional data", again as minimal big-endian bytes
  (so seed 0 and no seed give the same nonce);
* the private key is encoded on 32 bytes, the length of EC_ORDER.
"""

from __future__ import annotations

import hashlib
import hmac

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.stark._checks import require_int, require_private_key
from dydx_airgap.shared.stark.constants import EC_ORDER

_ORDER_BITS = EC_ORDER.bit_length()  # 252
_ORDER_BYTES = (_ORDER_BITS + 7) // 8  # 32


def _minimal_bytes(value: int) -> bytes:
    """Big-endian bytes without leading zeros; 0 encodes as the empty string."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _bits_to_int(data: bytes) -> int:
    """RFC 6979 bits2int: the leftmost _ORDER_BITS bits of ``data`` as an integer."""
    value = int.from_bytes(data, "big")
    excess_bits = 8 * len(data) - _ORDER_BITS
    return value >> excess_bits if excess_bits > 0 else value


def _hmac(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def generate_k_rfc6979(msg_hash: int, priv_key: int, seed: int | None = None) -> int:
    """The nonce k in [1, EC_ORDER) for signing ``msg_hash`` with ``priv_key`` (and ``seed``)."""
    msg_hash = require_int(msg_hash, "message hash")
    priv_key = require_private_key(priv_key)
    if seed is not None and require_int(seed, "signing seed") < 0:
        raise InputError("signing seed must be a non-negative integer")
    if msg_hash <= 0:
        # python-ecdsa cannot turn the empty encoding of 0 into an integer; cairo-lang fails there.
        raise InputError("message hash must be a positive integer; a zero hash cannot be signed")

    bit_length = msg_hash.bit_length()
    if bit_length >= 248 and 1 <= bit_length % 8 <= 4:
        msg_hash <<= 4

    # bits2octets: truncate to the order's bit length, reduce once, write on the order's length.
    truncated = _bits_to_int(_minimal_bytes(msg_hash))
    if truncated >= EC_ORDER:
        truncated -= EC_ORDER
    seed_material = (
        priv_key.to_bytes(_ORDER_BYTES, "big")
        + truncated.to_bytes(_ORDER_BYTES, "big")
        + _minimal_bytes(seed or 0)
    )

    # RFC 6979 §3.2 steps b-h.
    value = b"\x01" * hashlib.sha256().digest_size
    key = b"\x00" * hashlib.sha256().digest_size
    key = _hmac(key, value, b"\x00", seed_material)
    value = _hmac(key, value)
    key = _hmac(key, value, b"\x01", seed_material)
    value = _hmac(key, value)
    while True:
        candidate = b""
        while len(candidate) < _ORDER_BYTES:
            value = _hmac(key, value)
            candidate += value
        nonce = _bits_to_int(candidate)
        if 1 <= nonce < EC_ORDER:
            return nonce
        key = _hmac(key, value, b"\x00")
        value = _hmac(key, value)
