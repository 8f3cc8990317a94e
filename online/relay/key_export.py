"""`api-keys export`: an API key the relay stored, sealed to the trading host's age recipient.

dYdX returns a new key's secret only once, to whoever made the ``POST /v3/api-keys`` call — here the relay,
which keeps it in its 0600 credential store. The trading bot needs it; this seals key, secret and
passphrase (with the address and network they belong to) with age (pyrage) so that only the recipient's
private key opens them. The plaintext is one JSON object in dydx-v3-python's ``Client`` argument shape::

    {"api_key_credentials": {"key", "secret", "passphrase"}, "default_ethereum_address": "0x…",
     "network_id": 1, "host": "https://api.dydx.exchange"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.online.relay.credentials import CredentialStore, StoredKey
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import atomic_write_bytes
from dydx_airgap.shared.transport.age_recipient import Recipient, recipient_from_options, seal
from dydx_airgap.shared.transport.secrecy import SECRET_FILE_MODE

API_KEY_FORMAT = "dydx-airgap-api-key/1"


@dataclass(frozen=True)
class ExportedKey:
    key: str
    address: str
    api: str
    network_id: int
    label: str
    recipient: Recipient
    out: Path

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "address": self.address,
            "api": self.api,
            "network_id": self.network_id,
            "label": self.label,
            "recipient": self.recipient.text,
            "recipient_fingerprint": self.recipient.fingerprint,
            "file": str(self.out),
        }


def _find(store: CredentialStore, key: str, api_url: str | None) -> StoredKey:
    wanted = key.strip().lower()
    held = [k for k in store.load() if k.key == wanted]
    if api_url is not None:
        from dydx_airgap.online.relay.target import parse_api_url

        origin = parse_api_url(api_url).origin
        held = [k for k in held if k.api == origin]
    if not held:
        raise InputError(
            f"this relay holds no API key {wanted[:40]} in {store.path.parent}: "
            "dydx-relay api-keys list --api URL --address 0x… shows the keys it holds"
        )
    if len(held) > 1:
        raise InputError(f"this relay holds key {wanted} for {len(held)} APIs: name one with --api URL")
    return held[0]


def plaintext_of(entry: StoredKey) -> bytes:
    item = {
        "format": API_KEY_FORMAT,
        "host": entry.api,
        "network_id": entry.network_id,
        "default_ethereum_address": entry.address,
        "api_key_credentials": {
            "key": entry.key,
            "secret": entry.secret.reveal(),
            "passphrase": entry.passphrase.reveal(),
        },
    }
    return (json.dumps(item, indent=2, sort_keys=True) + "\n").encode("ascii")


def export_api_key(
    state_dir: Path, key: str, to: str | None, to_file: Path | None, out: Path, api_url: str | None
) -> ExportedKey:
    """Refuse a bad recipient and an existing ``out`` before the secret is read; write the age file 0600."""
    recipient = recipient_from_options(to, to_file)
    if out.exists():
        raise InputError(f"{out} already exists: an export never overwrites; choose another --out")
    entry = _find(CredentialStore(state_dir), key, api_url)
    atomic_write_bytes(out, seal(plaintext_of(entry), recipient).encode("ascii"), SECRET_FILE_MODE)
    return ExportedKey(entry.key, entry.address, entry.api, entry.network_id, entry.label, recipient, out)
