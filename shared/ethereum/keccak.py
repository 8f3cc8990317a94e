"""Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256)."""

from __future__ import annotations

from Crypto.Hash import keccak as _keccak


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Ethereum Keccak-256 digest of ``data``."""
    return _keccak.new(data=data, digest_bits=256).digest()
