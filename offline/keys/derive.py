"""`derive`: STARK key pairs and default API credentials for a range of accounts.

Public records go to one payload file per account; every secret goes into one encrypted vault. The derivation
signatures are never written anywhere. Before reporting success, every file written is read back and checked
(public files decode and match; the vault decrypts and its keys re-derive the published public keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.offline.keys.batch import derive_accounts_parallel, stark_public_points_parallel
from dydx_airgap.offline.keys.cold_key import DerivedAccount
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.offline.keys.vault import read_vault, write_vault
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import DEFAULT_VARIANT, StarkKeyVariant
from dydx_airgap.shared.errors import FormatError, InputError, VerificationError
from dydx_airgap.shared.fsutil import atomic_write_bytes, make_secret_dir, read_untrusted_file
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import Payload, decode_payload, new_payload

VAULT_NAME = "vault.dydx-vault"
CONTENTS_FORMAT = "dydx-airgap-vault-contents/1"


def hex64(value: int) -> str:
    return f"0x{value:064x}"


@dataclass(frozen=True)
class DerivedRecord:
    key: AccountKey
    account: DerivedAccount
    payload: Payload
    path: Path


def public_file_name(network: Network, index: int) -> str:
    return f"public-{network.chain_id}-{index:04d}.json"


def public_payload(network: Network, key: AccountKey, account: DerivedAccount) -> Payload:
    return new_payload(
        "public-key",
        network.chain_id,
        account.address,
        {
            "account": key.index,
            "derivation_path": key.derivation_path,
            "stark_public_key": hex64(account.stark.public_key),
            "stark_public_key_y": hex64(account.stark.public_key_y),
            "key_variant": account.variant.value,
            "api_key": account.api.key,
        },
        signer=key.key.origin_signer(),
    )


def vault_entry(network: Network, key: AccountKey, account: DerivedAccount) -> dict[str, Any]:
    return {
        "network_id": network.chain_id,
        "account": key.index,
        "derivation_path": key.derivation_path,
        "address": account.address,
        "key_variant": account.variant.value,
        "stark_private_key": hex64(account.stark.private_key.reveal()),
        "stark_public_key": hex64(account.stark.public_key),
        "stark_public_key_y": hex64(account.stark.public_key_y),
        "api_key": {
            "key": account.api.key,
            "secret": account.api.secret.reveal(),
            "passphrase": account.api.passphrase.reveal(),
        },
    }


def _entry_id(entry: dict[str, Any]) -> tuple[int, int]:
    return (entry["network_id"], entry["account"])


def merged_contents(
    contents: dict[str, Any], entries: list[dict[str, Any]], vault_path: Path
) -> dict[str, Any]:
    """An existing vault's contents with ``entries`` added: one vault holds every network and account of
    one key source (and its v4 section, kept as it is).

    An account already stored is re-derived and must come out identical; anything else — another variant,
    another derivation path, or another key's account under the same index — is refused, because replacing
    secrets silently could orphan funds. ``--overwrite`` is the explicit way to replace a vault.
    """
    if contents.get("format") != CONTENTS_FORMAT or not isinstance(contents.get("accounts"), list):
        raise FormatError(f"{vault_path} does not hold dydx-airgap vault contents")
    stored = {_entry_id(e): e for e in contents["accounts"]}
    address_of = {e["account"]: e["address"] for e in contents["accounts"]}
    for entry in entries:
        where = f"account {entry['account']} on network {entry['network_id']}"
        if address_of.get(entry["account"], entry["address"]) != entry["address"]:
            raise InputError(
                f"{vault_path} holds account {entry['account']} of another key "
                f"({address_of[entry['account']]}): one vault per key source; use another --out"
            )
        old = stored.get(_entry_id(entry))
        if old is None:
            continue
        old = {"key_variant": "web-app", **old}  # vaults written before variants were recorded
        if old != entry:
            differs = sorted(k for k in entry if old.get(k) != entry[k])
            named = ", ".join("key variant" if k == "key_variant" else k.replace("_", " ") for k in differs)
            raise InputError(
                f"{vault_path} already holds {where} with a different {named}: nothing was changed; "
                "derive into another --out, or pass --overwrite to replace the whole vault"
            )
    added = {_entry_id(e) for e in entries}
    kept = [e for e in contents["accounts"] if _entry_id(e) not in added]
    return {**contents, "accounts": kept + entries}


def derive_to_directory(
    network: Network,
    keys: Iterable[AccountKey],
    out_dir: Path,
    vault_passphrase: Secret[str],
    overwrite: bool,
    workers: int | None = None,
    variant: StarkKeyVariant = DEFAULT_VARIANT,
) -> list[DerivedRecord]:
    """``workers``: None spreads large batches over every CPU (offline/keys/batch.py); 1 forces one
    process."""
    out = make_secret_dir(out_dir)
    vault_path = out / VAULT_NAME
    records: list[DerivedRecord] = []
    entries: list[dict[str, Any]] = []
    key_list = list(keys)
    accounts = derive_accounts_parallel([key.key for key in key_list], network.chain_id, workers, variant)
    for key, account in zip(key_list, accounts, strict=True):
        payload = public_payload(network, key, account)
        records.append(DerivedRecord(key, account, payload, out / public_file_name(network, key.index)))
        entries.append(vault_entry(network, key, account))
    if not records:
        raise InputError("no accounts to derive")
    contents: dict[str, Any] = {"format": CONTENTS_FORMAT, "accounts": []}
    if vault_path.exists() and not overwrite:
        contents = merged_contents(read_vault(vault_path, vault_passphrase), entries, vault_path)
    else:
        contents["accounts"] = entries
    # The vault first: if writing it fails, no public file claims an account whose secrets are not stored.
    write_vault(vault_path, contents, vault_passphrase)
    for record in records:
        atomic_write_bytes(record.path, record.payload.to_bytes(), 0o644)
    verify_written(records, vault_path, vault_passphrase, workers)
    return records


def verify_written(
    records: list[DerivedRecord], vault_path: Path, passphrase: Secret[str], workers: int | None = None
) -> None:
    """Read back what was written: the files must decode to exactly what we meant to write."""
    for record in records:
        again = decode_payload(read_untrusted_file(record.path))
        if again.to_bytes() != record.payload.to_bytes():
            raise VerificationError(f"{record.path} does not read back as written")
    contents = read_vault(vault_path, passphrase)
    stored = {(e["network_id"], e["account"]): e for e in contents["accounts"]}
    private_keys = []
    for record in records:
        entry = stored.get((record.payload.network_id, record.key.index))
        if entry is None:
            raise VerificationError(f"vault lacks account {record.key.index}")
        private_keys.append(int(entry["stark_private_key"], 16))
    points = stark_public_points_parallel(private_keys, workers)
    for record, point in zip(records, points, strict=True):
        if point != (record.account.stark.public_key, record.account.stark.public_key_y):
            raise VerificationError(
                f"vault entry of account {record.key.index} does not re-derive its public key"
            )
