"""dYdX "typed signatures": 66 bytes r ‖ s ‖ v ‖ t (spec dydx-v3.md §4.2).

Decoding is strict on purpose. eth-account happily recovers *some* address from a high-s or v-flipped
signature; we refuse them, so a mangled signature is an error and never silently another account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from dydx_airgap.shared.errors import SignatureError
from dydx_airgap.shared.ethereum.address import address_from_public_key
from dydx_airgap.shared.ethereum.eip191 import personal_message_hash
from dydx_airgap.shared.ethereum.keccak import keccak256

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_HEX66 = re.compile(r"0x[0-9a-fA-F]{132}")
_HEX65 = re.compile(r"(0x)?[0-9a-fA-F]{130}")


class SignatureType(IntEnum):
    """What was actually signed (the trailing type byte)."""

    NO_PREPEND = 0  # the raw EIP-712 digest (eth_signTypedData)
    DECIMAL = 1  # keccak("\x19Ethereum Signed Message:\n32" ‖ digest)
    HEXADECIMAL = 2  # keccak("\x19Ethereum Signed Message:\n" ‖ 0x20 ‖ digest)
    PERSONAL = 3  # personal_sign of a pretty-printed JSON text (v3-client only)


@dataclass(frozen=True)
class TypedSignature:
    r: int
    s: int
    v: int  # 27 or 28
    sig_type: SignatureType

    def __post_init__(self) -> None:
        if not 1 <= self.r < SECP256K1_N:
            raise SignatureError("signature r is out of range")
        if not 1 <= self.s <= _HALF_N:
            raise SignatureError("signature s is not canonical (high-s): refusing a malleated signature")
        if self.v not in (27, 28):
            raise SignatureError("signature v must be 0x1b or 0x1c")

    @property
    def recovery_id(self) -> int:
        return self.v - 27

    def raw65(self) -> bytes:
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.v])

    def to_bytes(self) -> bytes:
        return self.raw65() + bytes([self.sig_type])

    def to_hex(self) -> str:
        return "0x" + self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, data: bytes) -> TypedSignature:
        if len(data) != 66:
            raise SignatureError(f"a typed signature is 66 bytes, got {len(data)}")
        if data[65] not in tuple(SignatureType):
            raise SignatureError(f"unknown signature type byte 0x{data[65]:02x} (expected 00, 01, 02 or 03)")
        return cls(
            r=int.from_bytes(data[:32], "big"),
            s=int.from_bytes(data[32:64], "big"),
            v=data[64],
            sig_type=SignatureType(data[65]),
        )

    @classmethod
    def from_hex(cls, text: str) -> TypedSignature:
        if not isinstance(text, str) or not _HEX66.fullmatch(text):
            raise SignatureError("a typed signature is 0x followed by 132 hex digits (r ‖ s ‖ v ‖ type)")
        return cls.from_bytes(bytes.fromhex(text[2:]))

    def __repr__(self) -> str:
        return f"TypedSignature({self.to_hex()})"


def normalize_raw_signature(raw: bytes | str) -> bytes:
    """Fix a 65-byte wallet signature's v like dYdX's clients: 00→1b, 01→1c, 1b/1c kept, others refused."""
    if isinstance(raw, str):
        if not _HEX65.fullmatch(raw):
            raise SignatureError("a raw signature is 65 bytes (130 hex digits)")
        raw = bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)
    if len(raw) != 65:
        raise SignatureError("a raw signature is 65 bytes")
    v = raw[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise SignatureError(f"unsupported signature v 0x{raw[64]:02x}")
    return raw[:64] + bytes([v])


def signed_hash(digest: bytes, sig_type: SignatureType, personal_text: str | None = None) -> bytes:
    """The 32-byte hash the key actually signed for a given EIP-712 digest and signature type."""
    if sig_type is SignatureType.NO_PREPEND:
        return digest
    if sig_type is SignatureType.DECIMAL:
        return keccak256(b"\x19Ethereum Signed Message:\n32" + digest)
    if sig_type is SignatureType.HEXADECIMAL:
        return keccak256(b"\x19Ethereum Signed Message:\n\x20" + digest)
    if personal_text is None:
        raise SignatureError("a personal-sign (type 03) signature needs the signed text to verify")
    return personal_message_hash(personal_text.encode("utf-8"))


def recover_hash_signer(message_hash: bytes, signature: TypedSignature) -> str:
    """Checksummed address whose key produced ``signature`` over the 32-byte ``message_hash``."""
    import coincurve  # deferred: keeps CLI start-up fast

    if len(message_hash) != 32:
        raise SignatureError("a signed message hash is 32 bytes")
    compact = (
        signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([signature.recovery_id])
    )
    try:
        public = coincurve.PublicKey.from_signature_and_message(compact, message_hash, hasher=None)
    except Exception as exc:
        raise SignatureError("signature does not recover to any public key") from exc
    return address_from_public_key(public.format(compressed=False))


def recover_typed_signer(digest: bytes, signature: TypedSignature, personal_text: str | None = None) -> str:
    """Recover the signer of an EIP-712 digest, honouring the signature's type byte."""
    return recover_hash_signer(signed_hash(digest, signature.sig_type, personal_text), signature)
