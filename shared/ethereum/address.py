"""Ethereum addresses: parsing, EIP-55 checksum casing, derivation from a public key."""

from __future__ import annotations

import re
from functools import lru_cache

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.keccak import keccak256

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def to_checksum_address(address: str | bytes) -> str:
    """Return the EIP-55 form of a 20-byte address given as bytes or ``0x`` hex (any case)."""
    raw = address if isinstance(address, bytes) else parse_address(address, allow_any_case=True)
    if len(raw) != 20:
        raise InputError("an Ethereum address is 20 bytes")
    return _checksum_of(raw.hex())


@lru_cache(maxsize=65536)
def _checksum_of(lower: str) -> str:
    """EIP-55 casing of 40 lower-case hex digits. Cached: a batch of payloads checks the same few addresses
    several times each (writing, decoding, verifying origins), and an address is public."""
    nibbles = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if h in "89abcdef" else c for c, h in zip(lower, nibbles[:40], strict=True)
    )


def parse_address(text: str, *, allow_any_case: bool = True) -> bytes:
    """Parse ``0x`` + 40 hex digits. Mixed case must be a valid EIP-55 checksum (a typo guard)."""
    if not isinstance(text, str) or not _HEX_ADDRESS.fullmatch(text):
        raise InputError("an Ethereum address must be 0x followed by 40 hex digits")
    raw = bytes.fromhex(text[2:])
    body = text[2:]
    mixed = body != body.lower() and body != body.upper()
    if mixed and to_checksum_address(raw) != text:
        raise InputError(f"address {text} has a wrong EIP-55 checksum: check it for a typo")
    if not allow_any_case and not mixed and body != body.lower():
        raise InputError("an Ethereum address must be lower case or EIP-55 checksummed")
    return raw


def same_address(a: str, b: str) -> bool:
    """Compare two addresses case-insensitively (dYdX stores lower case, clients send checksum case)."""
    if a == b:  # the common case (a recovered signer against the address it should be): parse one
        parse_address(a)
        return True
    return parse_address(a) == parse_address(b)


def address_from_public_key(uncompressed: bytes) -> str:
    """Checksummed address of a 65-byte uncompressed (0x04 ‖ x ‖ y) or 64-byte (x ‖ y) secp256k1 key."""
    if len(uncompressed) == 65 and uncompressed[0] == 4:
        uncompressed = uncompressed[1:]
    if len(uncompressed) != 64:
        raise InputError("a secp256k1 public key is 64 bytes (x ‖ y)")
    return to_checksum_address(keccak256(uncompressed)[12:])
