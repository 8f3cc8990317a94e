"""From derivation signatures to dYdX secrets (spec dydx-v3.md §4.3-§5).

These functions take *signatures* — themselves secrets — and never see an Ethereum key. Producing the
signatures is the cold side's job (offline/keys/cold_key.py); this module only turns them into keys,
exactly as the dYdX web app, v3-client and dydx-v3-python did, including their disagreements.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from dydx_airgap.shared.errors import SignatureError
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.secret import Secret


def _require66(signature: bytes) -> bytes:
    if len(signature) != 66:
        raise SignatureError("a derivation signature is 66 bytes (r ‖ s ‖ v ‖ type)")
    return signature


def stark_private_key_from_signature(signature: bytes) -> int:
    """The web app's rule: keccak-256 over all 66 bytes, shifted right by 5 bits (< 2^251, no grinding)."""
    return int.from_bytes(keccak256(_require66(signature)), "big") >> 5


def dydx3_python_stark_private_key(signature: bytes) -> int:
    """dydx-v3-python's rule: it hashes the signature *as an integer* re-hexed by web3 v5.

    Leading zero bytes vanish and an odd digit count gains one ``0``, so when the signature starts with
    byte 00 it hashes fewer than 66 bytes and yields a different key (about 1 account in 256).
    """
    digits = format(int.from_bytes(_require66(signature), "big"), "x")
    if len(digits) % 2:
        digits = "0" + digits
    return int.from_bytes(keccak256(bytes.fromhex(digits)), "big") >> 5


_V_ROTATION = {0x00: 0x1B, 0x1B: 0x00, 0x01: 0x1C, 0x1C: 0x01}
_T_ROTATION = {0x00: 0x03, 0x03: 0x00}


def stark_key_signature_candidates(signature: bytes) -> list[bytes]:
    """The web app's four candidates (v3-client deriveAllStarkKeys), in its order.

    Original; v rotated (00↔1b, 01↔1c); type byte rotated (00↔03); both. Wallets that return v as 00/01 or
    sign through another method produced these variants, so a registered key may be any of them.
    """
    sig = _require66(signature)
    v, t = sig[64], sig[65]
    v2 = _V_ROTATION.get(v, v)
    t2 = _T_ROTATION.get(t, t)
    return [sig, sig[:64] + bytes([v2, t]), sig[:64] + bytes([v, t2]), sig[:64] + bytes([v2, t2])]


@dataclass(frozen=True)
class ApiCredentials:
    """dYdX API credentials. ``key`` identifies; ``secret`` and ``passphrase`` authenticate."""

    key: str
    secret: Secret[str] = field(repr=False)
    passphrase: Secret[str] = field(repr=False)


def api_credentials_from_onboarding_signature(signature: bytes) -> ApiCredentials:
    """The default credentials dYdX derives from the onboarding signature (only r and s matter).

    secret = base64url(keccak(r)[:30]); key = UUID-shaped hex of keccak(s)[:16] (no version bits set);
    passphrase = base64url(keccak(s)[16:31]).
    """
    sig = _require66(signature)
    r_hash = keccak256(sig[:32])
    s_hash = keccak256(sig[32:64])
    hex_key = s_hash[:16].hex()
    key = "-".join((hex_key[:8], hex_key[8:12], hex_key[12:16], hex_key[16:20], hex_key[20:]))
    secret = base64.urlsafe_b64encode(r_hash[:30]).decode("ascii")
    passphrase = base64.urlsafe_b64encode(s_hash[16:31]).decode("ascii")
    return ApiCredentials(key=key, secret=Secret(secret), passphrase=Secret(passphrase))
