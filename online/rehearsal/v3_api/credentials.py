"""API credentials at rest: random issuance and passphrase-sealed secrets.

dYdX's docs say the passphrase is "used to encrypt/decrypt the secret in our DB, and never stored in our
DB". The local API does the same: the secret is sealed with AES-256-GCM under a key hashed from the
passphrase, so checking ``DYDX-PASSPHRASE`` *is* opening the seal, and a copied database file does not
hand out HMAC secrets. The passphrase has 120 random bits, so a plain hash is an adequate key derivation.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.secret import Secret

_SEAL_CONTEXT = b"dydx-airgap local api: api-key secret seal v1\x00"


def random_api_credentials() -> ApiCredentials:
    """What ``POST /v3/api-keys`` issues: a UUID-shaped key, 30-byte secret, 15-byte passphrase."""
    hex_key = secrets.token_hex(16)
    key = "-".join((hex_key[:8], hex_key[8:12], hex_key[12:16], hex_key[16:20], hex_key[20:]))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(30)).decode("ascii")
    passphrase = base64.urlsafe_b64encode(secrets.token_bytes(15)).decode("ascii")
    return ApiCredentials(key=key, secret=Secret(secret), passphrase=Secret(passphrase))


@dataclass(frozen=True)
class SealedSecret:
    nonce: bytes
    ciphertext: bytes


def _seal_key(passphrase: str) -> bytes:
    return hashlib.sha256(_SEAL_CONTEXT + passphrase.encode("utf-8")).digest()


def seal_secret(credentials: ApiCredentials) -> SealedSecret:
    nonce = secrets.token_bytes(12)
    aead = AESGCM(_seal_key(credentials.passphrase.reveal()))
    # The key id is bound as associated data: a sealed secret cannot be moved to another key's row.
    ciphertext = aead.encrypt(nonce, credentials.secret.reveal().encode("ascii"), credentials.key.encode())
    return SealedSecret(nonce=nonce, ciphertext=ciphertext)


def open_secret(key: str, passphrase: str, sealed: SealedSecret) -> Secret[str] | None:
    """The secret if ``passphrase`` is the right one for ``key``, else None."""
    try:
        plain = AESGCM(_seal_key(passphrase)).decrypt(sealed.nonce, sealed.ciphertext, key.encode())
    except InvalidTag:
        return None
    return Secret(plain.decode("ascii"))
