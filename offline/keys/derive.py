"""`derive`: STARK key pairs and default API credentials for a range of accounts.

Public records go to one payload file per account; every secret goes into one encrypted vault. The derivation
signatures are never written anywhere. Before reporting success, every file written is read back and checked
(:func:`verify_written` says what each check proves).

Costs are linear in the number of accounts: the public files are written as one batch (fsutil's
atomic_write_many: one fsync per file and one for the directory), each payload is encoded and validated
once, and the read-back compares bytes and decrypted values with the ones in memory instead of decoding
and deriving again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dydx_airgap.offline.keys.batch import Beside, derive_accounts_with
from dydx_airgap.offline.keys.cold_key import DerivedAccount
from dydx_airgap.offline.keys.passphrase_rule import require_strong_passphrase
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.offline.keys.vault import VaultKey, new_vault_key, read_vault, write_vault
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import DEFAULT_VARIANT, StarkKeyVariant
from dydx_airgap.shared.errors import FormatError, InputError, VerificationError
from dydx_airgap.shared.fsutil import StagedWrites, make_secret_dir, read_untrusted_file
from dydx_airgap.shared.progress import BatchProgress, disabled
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import Payload, new_payload_and_bytes, rebuild_validated_payload

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
    #: The payload's bytes, as encoded once and validated by the decoder (origin signature included).
    data: bytes = field(repr=False, default=b"")


def public_file_name(network: Network, index: int) -> str:
    return f"public-{network.chain_id}-{index:04d}.json"


def public_payload(network: Network, key: AccountKey, account: DerivedAccount) -> Payload:
    return public_payload_and_bytes(network, key, account)[0]


def public_payload_and_bytes(
    network: Network, key: AccountKey, account: DerivedAccount
) -> tuple[Payload, bytes]:
    return new_payload_and_bytes(
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
    progress: BatchProgress | None = None,
) -> list[DerivedRecord]:
    """``workers``: None spreads large batches over every CPU (offline/keys/batch.py); 1 forces one
    process. ``progress``: where a long batch shows its stages (shared/progress.py)."""
    shown = progress if progress is not None else disabled()
    out = make_secret_dir(out_dir)
    vault_path = out / VAULT_NAME
    records: list[DerivedRecord] = []
    entries: list[dict[str, Any]] = []
    key_list = list(keys)
    if not key_list:
        raise InputError("no accounts to derive")
    require_strong_passphrase(vault_passphrase, "vault passphrase")
    vault_keys: list[VaultKey] = []
    # Each account's public payload is built, origin-signed and validated in the worker that derived it;
    # meanwhile the parent's thread runs Argon2id for the vault's new key.
    derived = derive_accounts_with(
        [key.key for key in key_list],
        network.chain_id,
        lambda index, account: public_payload_and_bytes(network, key_list[index], account)[1],
        workers,
        variant,
        shown.stage("deriving", len(key_list)) if shown.enabled else None,
        meanwhile=lambda: vault_keys.append(new_vault_key(vault_passphrase)),
    )
    for key, (account, data) in zip(key_list, derived, strict=True):
        payload = rebuild_validated_payload(data)
        _require_payload_of(payload, network, key, account)
        records.append(DerivedRecord(key, account, payload, out / public_file_name(network, key.index), data))
        entries.append(vault_entry(network, key, account))
    shown.stage(f"writing the vault and {len(records):,} files")
    contents: dict[str, Any] = {"format": CONTENTS_FORMAT, "accounts": []}
    if vault_path.exists() and not overwrite:
        contents = merged_contents(read_vault(vault_path, vault_passphrase), entries, vault_path)
    else:
        contents["accounts"] = entries
    # The public files' temporaries are written and fsynced on threads while Argon2id encrypts the vault;
    # the vault is installed first and they are renamed only then: if writing the vault fails, no public
    # file claims an account whose secrets are not stored.
    with StagedWrites([(record.path, record.data) for record in records], 0o644) as public_files:
        write_vault(vault_path, contents, vault_passphrase, vault_keys[0])
        # The vault is read back (Argon2id again) on a thread while the public files are renamed into
        # place and read back.
        with Beside(lambda: read_vault(vault_path, vault_passphrase)) as stored:
            stored.start()
            public_files.install()
            shown.stage("reading back")
            check_public_files(records)
    verify_written(records, vault_path, cast(dict[str, Any], stored.result), contents)
    return records


def _require_payload_of(payload: Payload, network: Network, key: AccountKey, account: DerivedAccount) -> None:
    """The public payload a worker built publishes this account: its network, address, index, path,
    STARK public key, variant and API key id."""
    expected = {
        "account": key.index,
        "derivation_path": key.derivation_path,
        "stark_public_key": hex64(account.stark.public_key),
        "stark_public_key_y": hex64(account.stark.public_key_y),
        "key_variant": account.variant.value,
        "api_key": account.api.key,
    }
    if (
        payload.kind != "public-key"
        or payload.network_id != network.chain_id
        or payload.address != account.address
        or dict(payload.body) != expected
    ):
        raise VerificationError(f"the public file of account {key.index} does not match its derivation")


def check_public_files(records: list[DerivedRecord]) -> None:
    """Each public file reads back byte for byte as the bytes the decoder validated (verify_written)."""
    for record in records:
        if read_untrusted_file(record.path) != record.data:
            raise VerificationError(f"{record.path} does not read back as written")


def verify_written(
    records: list[DerivedRecord], vault_path: Path, stored: dict[str, Any], contents: dict[str, Any]
) -> None:
    """The read-back checks, made before success is reported (``stored``: what :func:`read_vault` gave
    for the vault just written; the public files were checked by :func:`check_public_files`). Each check
    and what it proves:

    * each public file reads back byte for byte as the bytes the payload decoder validated before they were
      written (seal, fields, origin signature by this key): the file on disk is that validated payload, so
      decoding it again would prove nothing more;
    * the vault, read from disk, decrypts with the passphrase (the whole Argon2id and AES-GCM path a later
      command takes: the header, salt and every ciphertext bit are authenticated) to exactly the contents
      meant: each account's STARK private key is the one in memory whose public key the account's public
      file publishes, and its API credentials are the ones derived; entries kept from an earlier run are
      unchanged. Deriving each public key again from the vault's private key would redo the costliest step
      of derivation only to reach the same equality.
    """
    if stored != contents:
        raise VerificationError(f"{vault_path} does not decrypt to the accounts just written")
    by_id = {_entry_id(entry): entry for entry in stored["accounts"]}
    for record in records:
        entry = by_id.get((record.payload.network_id, record.key.index))
        if entry is None:
            raise VerificationError(f"vault lacks account {record.key.index}")
        body = record.payload.body
        if (entry["stark_public_key"], entry["stark_public_key_y"], entry["api_key"]["key"]) != (
            body["stark_public_key"],
            body["stark_public_key_y"],
            body["api_key"],
        ) or entry["stark_private_key"] != hex64(record.account.stark.private_key.reveal()):
            raise VerificationError(
                f"vault entry of account {record.key.index} does not match its public file"
            )
