"""EIP-191 version 0x45 ("personal_sign"): the hash a wallet signs for a text message."""

from __future__ import annotations

from dydx_airgap.shared.ethereum.keccak import keccak256


def personal_message_hash(text: bytes) -> bytes:
    """keccak("\\x19Ethereum Signed Message:\\n" ‖ decimal length ‖ text)."""
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(text)).encode() + text)
