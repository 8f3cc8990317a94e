"""The API credentials the relay holds: one JSON file in the state directory, mode 0600, atomic writes.

dYdX hands the default API key, secret and passphrase to whoever submits the onboarding (and they follow
from the onboarding signature anyway, spec dydx-v3.md §9), and a new key's secret exists only in the
answer to ``POST /v3/api-keys``: the relay must keep them to be of any use. They live here and nowhere
else — every other output shows key ids only. Like ssh, the relay refuses a file others can read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.errors import AirgapError, FormatError
from dydx_airgap.shared.ethereum.address import same_address, to_checksum_address
from dydx_airgap.shared.fsutil import read_secret_file, write_secret_file
from dydx_airgap.shared.secret import Secret

CREDENTIALS_FILE = "api-credentials.json"
FORMAT = "dydx-airgap-relay-credentials/1"
LABELS = ("default", "created")


@dataclass(frozen=True)
class StoredKey:
    api: str  # API origin the key belongs to
    network_id: int
    address: str  # EIP-55
    key: str
    secret: Secret[str] = field(repr=False)
    passphrase: Secret[str] = field(repr=False)
    label: str  # "default" (from onboarding) or "created" (POST /v3/api-keys)
    created: str
    payload_id: str | None = None

    @property
    def credentials(self) -> ApiCredentials:
        return ApiCredentials(self.key, self.secret, self.passphrase)

    def to_json(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "network_id": self.network_id,
            "address": self.address,
            "key": self.key,
            "secret": self.secret.reveal(),
            "passphrase": self.passphrase.reveal(),
            "label": self.label,
            "created": self.created,
            "payload_id": self.payload_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> StoredKey:
        try:
            return cls(
                api=str(data["api"]),
                network_id=int(data["network_id"]),
                address=to_checksum_address(str(data["address"])),
                key=str(data["key"]),
                secret=Secret(str(data["secret"])),
                passphrase=Secret(str(data["passphrase"])),
                label=str(data["label"]),
                created=str(data["created"]),
                payload_id=None if data.get("payload_id") is None else str(data["payload_id"]),
            )
        except (KeyError, TypeError, ValueError, AirgapError) as exc:
            raise FormatError("an entry of the API credentials file is malformed") from exc


class CredentialStore:
    """Read-modify-write of the credentials file (callers hold the state directory's lock)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / CREDENTIALS_FILE

    def load(self) -> list[StoredKey]:
        if not self.path.exists():
            return []
        raw = read_secret_file(self.path)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FormatError(f"{self.path} is not valid JSON; restore it from a backup") from exc
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or not isinstance(data.get("keys"), list)
        ):
            raise FormatError(f"{self.path} is not a relay credentials file ({FORMAT})")
        return [StoredKey.from_json(entry) for entry in data["keys"]]

    def _save(self, keys: list[StoredKey]) -> None:
        text = json.dumps({"format": FORMAT, "keys": [k.to_json() for k in keys]}, indent=2)
        write_secret_file(self.path, text.encode("utf-8") + b"\n")

    def add(self, entry: StoredKey) -> None:
        keys = [k for k in self.load() if not (k.api == entry.api and k.key == entry.key)]
        keys.append(entry)
        self._save(keys)

    def remove(self, api: str, key: str) -> bool:
        keys = self.load()
        kept = [k for k in keys if not (k.api == api and k.key == key)]
        if len(kept) != len(keys):
            self._save(kept)
        return len(kept) != len(keys)

    def for_address(self, api: str, address: str) -> list[StoredKey]:
        return [k for k in self.load() if k.api == api and same_address(k.address, address)]

    def pick(self, api: str, address: str, exclude: frozenset[str] = frozenset()) -> StoredKey | None:
        """Credentials to authenticate reads for ``address``: the default key first, then the newest."""
        candidates = [k for k in self.for_address(api, address) if k.key not in exclude]
        if not candidates:
            return None
        defaults = [k for k in candidates if k.label == "default"]
        return defaults[0] if defaults else candidates[-1]
