"""The EIP-712 building blocks dYdX's structs need: member encodings and the final digest.

Only ``string`` and ``uint256`` members occur in the structs this project signs (dYdX v3's two, and v4's
onboarding struct), so a direct encoder is short, fast and easy to audit; tests cross-check it against
eth-account's generic encoder.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.keccak import keccak256


def type_hash(type_text: str) -> bytes:
    """keccak of a struct's type string, e.g. ``EIP712Domain(string name,string version,uint256 chainId)``."""
    return keccak256(type_text.encode())


def encode_uint256(value: int) -> bytes:
    if not 0 <= value < 2**256:
        raise InputError("a uint256 must be between 0 and 2**256-1")
    return value.to_bytes(32, "big")


def encode_string(value: str) -> bytes:
    """A ``string`` member is encoded as the keccak of its UTF-8 bytes."""
    return keccak256(value.encode("utf-8"))


def typed_data_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """keccak(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)): what the wallet signs."""
    return keccak256(b"\x19\x01" + domain_separator + struct_hash)
