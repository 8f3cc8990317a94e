"""The encrypted vault holding the derived secrets of every account (STARK private keys, API credentials).

File layout: ``MAGIC`` ‖ header (canonical JSON) ‖ ``\\n`` ‖ AES-256-GCM ciphertext. The key comes from the
passphrase through Argon2id (RFC 9106 second recommended profile: t=3, p=4, m=64 MiB); the *whole* header —
format, KDF parameters, salt, nonce — is the associated data, so flipping any bit anywhere fails
authentication. A fresh random salt and nonce are drawn for every write. Files are 0600 from creation and
written atomically; reading refuses a vault that group or others may read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.offline.keys.passphrase_rule import require_strong_passphrase
from dydx_airgap.shared.canonical_json import canonical_dumps, loads_strict
from dydx_airgap.shared.errors import FormatError, InputError, PolicyError
from dydx_airgap.shared.fsutil import read_secret_file, write_secret_file
from dydx_airgap.shared.secret import Secret

MAGIC = b"DYDX-AIRGAP-VAULT\n"
FORMAT = "dydx-airgap-vault/1"
KDF_DEFAULT = {"name": "argon2id", "iterations": 3, "lanes": 4, "memory_kib": 65536}
# Bounds on what a header may ask for: enough to refuse a weakened vault and a denial-of-service one.
_KDF_MIN = {"iterations": 1, "lanes": 1, "memory_kib": 65536}
_KDF_MAX = {"iterations": 64, "lanes": 64, "memory_kib": 4 * 1024 * 1024}
MAX_VAULT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class VaultHeader:
    kdf: dict[str, Any]
    salt: bytes
    nonce: bytes

    def to_bytes(self) -> bytes:
        return canonical_dumps(
            {
                "format": FORMAT,
                "kdf": self.kdf,
                "salt": self.salt.hex(),
                "cipher": "aes-256-gcm",
                "nonce": self.nonce.hex(),
            }
        )


def _derive_key(passphrase: Secret[str], header: VaultHeader) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    kdf = Argon2id(
        salt=header.salt,
        length=32,
        iterations=header.kdf["iterations"],
        lanes=header.kdf["lanes"],
        memory_cost=header.kdf["memory_kib"],
    )
    return kdf.derive(passphrase.reveal().encode("utf-8"))


class VaultKey:
    """The key and header of one vault write: a fresh salt and nonce, the key Argon2id derives from them.

    Made ahead of the contents (:func:`new_vault_key`) so that a batch can run Argon2id beside its other
    work; used for exactly one encryption (a nonce must never encrypt twice). Its repr says nothing.
    """

    __slots__ = ("_key", "header")

    def __init__(self, header: VaultHeader, key: Secret[bytes]) -> None:
        self.header = header
        self._key: Secret[bytes] | None = key

    def __repr__(self) -> str:
        return "VaultKey(<secret>)"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("vault keys are not picklable")

    def take(self) -> bytes:
        if self._key is None:
            raise InputError("this vault key has encrypted a vault already: a nonce is used once")
        key, self._key = self._key, None
        return key.reveal()


def new_vault_key(passphrase: Secret[str]) -> VaultKey:
    header = VaultHeader(kdf=dict(KDF_DEFAULT), salt=os.urandom(16), nonce=os.urandom(12))
    return VaultKey(header, Secret(_derive_key(passphrase, header)))


#: What a vault file adds to its contents: the magic line, the canonical header (its hex salt and nonce have
#: fixed lengths; the KDF figures are bounded by _KDF_MAX) and its newline, and the AES-GCM tag.
_FILE_OVERHEAD = len(MAGIC) + 4096 + 1 + 16


def _require_openable_size(contents: dict[str, Any], size: int) -> None:
    """A vault that :func:`read_vault` would refuse as too large is never written: refused here, before any
    file of the batch is, so the directory stays as it was."""
    limit = MAX_VAULT_BYTES - _FILE_OVERHEAD
    if size <= limit:
        return
    entries = sum(len(contents.get(name) or ()) for name in ("accounts", "v4_accounts"))
    fits = f" (about {limit * entries // size:,} of these accounts fit)" if entries else ""
    raise PolicyError(
        f"a vault holding {entries:,} accounts would be {size / 2**20:.1f} MiB, more than the "
        f"{MAX_VAULT_BYTES // 2**20} MiB a vault may hold{fits}: nothing was written; derive the "
        "accounts in smaller ranges, each into its own --out directory"
    )


#: No vault entry is shorter: a v3 entry's keys and credentials have fixed lengths (561 bytes measured), a
#: v4 entry holds a 24-word mnemonic, a public key and two addresses (about 600 bytes, 780 with the
#: onboarding signature).
ENTRY_LEAST_BYTES = 400


def require_room_for(accounts: int) -> None:
    """Before a batch is derived: refuse at once a range whose entries cannot fit in one vault even at their
    smallest, rather than after minutes of derivation. Ranges near the limit pass here and are measured
    exactly when the vault is encrypted (:func:`encrypt_vault`)."""
    most = (MAX_VAULT_BYTES - _FILE_OVERHEAD) // ENTRY_LEAST_BYTES
    if accounts > most:
        raise PolicyError(
            f"{accounts:,} accounts cannot fit in one vault ({MAX_VAULT_BYTES // 2**20} MiB: even at their "
            f"smallest, at most {most:,} fit): nothing was written; derive the accounts in smaller ranges, "
            "each into its own --out directory"
        )


def encrypt_vault(
    contents: dict[str, Any], passphrase: Secret[str], prepared: VaultKey | None = None
) -> bytes:
    """``prepared``: a key made by :func:`new_vault_key` from this same passphrase (else one is made)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plaintext = canonical_dumps(contents)
    _require_openable_size(contents, len(plaintext))
    vault_key = prepared if prepared is not None else new_vault_key(passphrase)
    header = vault_key.header
    header_bytes = header.to_bytes()
    ciphertext = AESGCM(vault_key.take()).encrypt(header.nonce, plaintext, header_bytes)
    return MAGIC + header_bytes + b"\n" + ciphertext


def _parse_header(data: bytes) -> tuple[VaultHeader, bytes, bytes]:
    if not data.startswith(MAGIC):
        raise FormatError("not a dydx-airgap vault file")
    rest = data[len(MAGIC) :]
    end = rest.find(b"\n")
    if end <= 0 or end > 4096:
        raise FormatError("vault header is damaged")
    header_bytes, ciphertext = rest[:end], rest[end + 1 :]
    value = loads_strict(header_bytes, max_bytes=4096)
    if not isinstance(value, dict) or set(value) != {"format", "kdf", "salt", "cipher", "nonce"}:
        raise FormatError("vault header is damaged")
    if value["format"] != FORMAT or value["cipher"] != "aes-256-gcm":
        raise FormatError("vault format or cipher is not supported by this version")
    kdf = value["kdf"]
    if not isinstance(kdf, dict) or set(kdf) != set(KDF_DEFAULT) or kdf["name"] != "argon2id":
        raise FormatError("vault key-derivation parameters are damaged")
    for name, low in _KDF_MIN.items():
        if not isinstance(kdf[name], int) or not low <= kdf[name] <= _KDF_MAX[name]:
            raise FormatError(f"vault KDF parameter {name} is outside the accepted range")
    try:
        salt, nonce = bytes.fromhex(value["salt"]), bytes.fromhex(value["nonce"])
    except (TypeError, ValueError) as exc:
        raise FormatError("vault header is damaged") from exc
    if len(salt) != 16 or len(nonce) != 12 or len(ciphertext) < 16:
        raise FormatError("vault header is damaged")
    header = VaultHeader(kdf=kdf, salt=salt, nonce=nonce)
    if header.to_bytes() != header_bytes:
        raise FormatError("vault header is not canonical: it was edited")
    return header, header_bytes, ciphertext


def decrypt_vault(data: bytes, passphrase: Secret[str]) -> dict[str, Any]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header, header_bytes, ciphertext = _parse_header(data)
    try:
        plaintext = AESGCM(_derive_key(passphrase, header)).decrypt(header.nonce, ciphertext, header_bytes)
    except InvalidTag:
        raise InputError("wrong vault passphrase, or the vault file was altered") from None
    value = loads_strict(plaintext, max_bytes=MAX_VAULT_BYTES)
    if not isinstance(value, dict):
        raise FormatError("vault contents are damaged")
    return value


def write_vault(
    path: Path, contents: dict[str, Any], passphrase: Secret[str], prepared: VaultKey | None = None
) -> None:
    require_strong_passphrase(passphrase, "vault passphrase")
    write_secret_file(path, encrypt_vault(contents, passphrase, prepared))


def read_vault(path: Path, passphrase: Secret[str]) -> dict[str, Any]:
    return decrypt_vault(read_secret_file(path, cap=MAX_VAULT_BYTES), passphrase)
