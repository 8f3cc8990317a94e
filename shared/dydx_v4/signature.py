"""Verification of v4 transaction signatures: secp256k1 ECDSA over SHA-256(sign bytes), 64 bytes r‖s.

Verification only — signing is the cold side's job. High-s signatures are refused, as the chain refuses
them (cosmos-sdk's secp256k1 VerifySignature): otherwise (r, s) and (r, n − s) would be two valid
signatures of one SignDoc and a relay could not tell the cold signer's output from a malleated copy.
"""

from __future__ import annotations

import hashlib

import coincurve

from dydx_airgap.shared.errors import SignatureError

from .address import check_compressed_pubkey

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
SIGNATURE_LENGTH = 64


def split_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) of a 64-byte signature, each checked to lie in [1, n−1] and s in the low half."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        raise SignatureError("a v4 signature is exactly 64 bytes (r ‖ s)")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not 0 < r < SECP256K1_N or not 0 < s < SECP256K1_N:
        raise SignatureError("signature r or s is outside 1 … n−1")
    if s > HALF_N:
        raise SignatureError("high-s signature: the chain accepts only s ≤ n/2")
    return r, s


def _der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if body[0] & 0x80:  # DER integers are signed: a leading 1 bit needs a zero byte in front
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def _der(r: int, s: int) -> bytes:
    # libsecp256k1's verifier takes DER; both integers are < 2**256, so every length fits in one byte.
    seq = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(seq)]) + seq


def verify_direct(public_key: bytes, sign_doc: bytes, signature: bytes) -> None:
    """Raise SignatureError unless ``signature`` is the low-s signature of ``public_key`` over
    SHA-256(``sign_doc``)."""
    r, s = split_signature(signature)
    check_compressed_pubkey(public_key)
    digest = hashlib.sha256(sign_doc).digest()
    try:
        valid = coincurve.PublicKey(public_key).verify(_der(r, s), digest, hasher=None)
    except ValueError:
        valid = False
    if not valid:
        raise SignatureError("the signature does not verify for this public key and sign doc")


def is_valid_direct(public_key: bytes, sign_doc: bytes, signature: bytes) -> bool:
    try:
        verify_direct(public_key, sign_doc, signature)
    except SignatureError:
        return False
    return True
