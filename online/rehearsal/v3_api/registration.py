"""The operator key and the registration signature of ``GET /v3/registration`` (spec dydx-v3.md §7.2).

StarkPerpetual's ``registerUser(ethKey, starkKey, signature)`` recovers, with plain ``ecrecover`` (no
EIP-191 prefix), the signer of keccak256(abi.encodePacked("UserRegistration:", ethKey, starkKey)) and
requires it to be a user admin. dYdX held that admin key; the local API holds its own "operator" key, so
the local chain's StarkPerpetual stand-in must be deployed with this key's *address* as its admin.
"""

from __future__ import annotations

import secrets

import coincurve

from dydx_airgap.shared.ethereum.address import address_from_public_key, parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.secret import Secret

REGISTRATION_PREFIX = b"UserRegistration:"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def registration_digest(ethereum_address: str, stark_key: int) -> bytes:
    """keccak256("UserRegistration:" ‖ ethKey (20 bytes) ‖ starkKey (uint256, 32 bytes))."""
    return keccak256(REGISTRATION_PREFIX + parse_address(ethereum_address) + stark_key.to_bytes(32, "big"))


class OperatorKey:
    """A secp256k1 key that signs registrations. Its repr never shows the key."""

    __slots__ = ("_address", "_secret")

    def __init__(self, secret: Secret[bytes]) -> None:
        raw = secret.reveal()
        if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
            raise ValueError("an operator key is a 32-byte secp256k1 scalar")
        self._secret = secret
        public = coincurve.PrivateKey(raw).public_key.format(compressed=False)
        self._address = address_from_public_key(public)

    @classmethod
    def generate(cls) -> OperatorKey:
        """A fresh key from the OS CSPRNG (retrying the ~2^-128 chance of an out-of-range scalar)."""
        while True:
            raw = secrets.token_bytes(32)
            if 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
                return cls(Secret(raw))

    @property
    def address(self) -> str:
        return self._address

    def secret_bytes(self) -> Secret[bytes]:
        """For persistence only (the SQLite store)."""
        return self._secret

    def sign_registration(self, ethereum_address: str, stark_key: int) -> str:
        """``0x`` + r ‖ s ‖ v (v = 27/28): what ``registerUser`` takes as its ``signature`` argument."""
        digest = registration_digest(ethereum_address, stark_key)
        # hasher=None: the digest is signed as is, exactly what ecrecover will check.
        compact = coincurve.PrivateKey(self._secret.reveal()).sign_recoverable(digest, hasher=None)
        return "0x" + (compact[:64] + bytes([compact[64] + 27])).hex()

    def __repr__(self) -> str:
        return f"OperatorKey(address={self._address})"
