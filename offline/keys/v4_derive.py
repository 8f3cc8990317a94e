"""`derive-v4`: the dYdX v4 (dYdX Chain) account of each cold key, into the vault's v4 section.

Two kinds of key source. An Ethereum key (keystore or mnemonic, every account index) signs the
environment's "dYdX Chain Onboarding" typed data and the account follows from that signature, exactly as
the web app derives it. An existing v4 mnemonic (a Cosmos-wallet account, or one exported from the web
app) is the account itself. Either way the secrets — the onboarding signature and the 24-word mnemonic —
go into the encrypted vault and nowhere else; the public part goes into one origin-signed `v4-public-key`
payload per account. Every file written is read back: the payloads must decode to what was meant, and the
vault's v4 entries must re-derive the published keys (mnemonic → key, and signature → mnemonic).

The vault keeps its format: the v4 entries are a ``v4_accounts`` list beside the v3 ``accounts``. An
existing vault in the directory is opened with the passphrase and its v3 entries are kept.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_v4_account
from dydx_airgap.offline.keys.derive import CONTENTS_FORMAT, VAULT_NAME
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.keys.sources import AccountKey, load_keys
from dydx_airgap.offline.keys.v4_account import V4Account, account_from_mnemonic, mnemonic_from_entropy
from dydx_airgap.offline.keys.vault import read_vault, write_vault
from dydx_airgap.offline.options import KeySourceOptions, V4MnemonicOptions
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.onboarding import HD_PATH, entropy_from_signature
from dydx_airgap.shared.errors import FormatError, InputError, VerificationError
from dydx_airgap.shared.fsutil import atomic_write_bytes, make_secret_dir, read_untrusted_file
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import Payload, decode_payload, new_payload

ETHEREUM_KEY = "ethereum-key"
V4_MNEMONIC = "v4-mnemonic"


@dataclass(frozen=True)
class V4Source:
    """One v4 account to derive: from an Ethereum key, or from a v4 mnemonic (then ``key`` is None)."""

    index: int
    key: AccountKey | None
    mnemonic: Secret[str] | None = None


@dataclass(frozen=True)
class V4Record:
    source: V4Source
    account: V4Account
    origin: ColdKey
    onboarding_signature: Secret[bytes] | None
    payload: Payload
    path: Path

    @property
    def key_source(self) -> str:
        return ETHEREUM_KEY if self.source.key is not None else V4_MNEMONIC


def account_key(account: V4Account) -> ColdKey:
    """The v4 key as a ColdKey: it signs this account's payload origins when no Ethereum key exists.

    Same curve, so the key has an Ethereum-style address; verifiers check it against the body's public key.
    """
    return ColdKey(account.private_key, source="v4 mnemonic")


def public_file_name(network: V4Network, index: int) -> str:
    return f"v4-public-{network.chain_id}-{index:04d}.json"


def derive_one(network: V4Network, source: V4Source) -> tuple[V4Account, Secret[bytes] | None, ColdKey]:
    if source.key is not None:
        derived = derive_v4_account(source.key.key, network.eip712_chain_id)
        return derived.account, derived.onboarding_signature, source.key.key
    if source.mnemonic is None:
        raise InputError("a v4 key source is an Ethereum key or a v4 mnemonic")
    account = account_from_mnemonic(source.mnemonic)
    return account, None, account_key(account)


def public_payload(
    network: V4Network, record_source: V4Source, account: V4Account, origin: ColdKey
) -> Payload:
    from_eth = record_source.key is not None
    return new_payload(
        "v4-public-key",
        network.eip712_chain_id,
        origin.address,
        {
            "network": network.name,
            "chain_id": network.chain_id,
            "account": record_source.index,
            "key_source": ETHEREUM_KEY if from_eth else V4_MNEMONIC,
            "derivation_path": record_source.key.derivation_path if record_source.key else None,
            "onboarding_eip712_chain_id": network.eip712_chain_id if from_eth else None,
            "hd_path": account.hd_path,
            "public_key": account.public_key.hex(),
            "address": account.address,
            "noble_address": account.noble_address,
        },
        signer=origin.origin_signer(),
    )


def vault_entry(network: V4Network, record: V4Record) -> dict[str, Any]:
    sig = record.onboarding_signature
    return {
        "network": network.name,
        "chain_id": network.chain_id,
        "account": record.source.index,
        "key_source": record.key_source,
        "ethereum_address": record.origin.address if record.source.key is not None else None,
        "derivation_path": record.source.key.derivation_path if record.source.key else None,
        "onboarding_eip712_chain_id": network.eip712_chain_id if sig is not None else None,
        "onboarding_signature": sig.reveal().hex() if sig is not None else None,
        "mnemonic": record.account.mnemonic.reveal(),
        "hd_path": record.account.hd_path,
        "public_key": record.account.public_key.hex(),
        "address": record.account.address,
        "noble_address": record.account.noble_address,
    }


def _entry_id(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["chain_id"], entry["key_source"], entry["ethereum_address"], entry["account"])


def derive_v4_to_directory(
    network: V4Network,
    sources: list[V4Source],
    out_dir: Path,
    vault_passphrase: Secret[str],
    overwrite: bool,
) -> list[V4Record]:
    if not sources:
        raise InputError("no accounts to derive")
    # Derive everything first: a bad key source must not leave even an empty directory behind.
    records: list[V4Record] = []
    for source in sources:
        account, signature, origin = derive_one(network, source)
        payload = public_payload(network, source, account, origin)
        path = out_dir / public_file_name(network, source.index)
        records.append(V4Record(source, account, origin, signature, payload, path))
    out = make_secret_dir(out_dir)
    vault_path = out / VAULT_NAME
    contents: dict[str, Any] = {"format": CONTENTS_FORMAT, "accounts": []}
    if vault_path.exists() and not overwrite:
        # One vault per directory: add the v4 section to it, keeping whatever it holds already.
        contents = read_vault(vault_path, vault_passphrase)
        if contents.get("format") != CONTENTS_FORMAT or not isinstance(contents.get("accounts"), list):
            raise FormatError(f"{vault_path} does not hold dydx-airgap vault contents")
    new_entries = [vault_entry(network, r) for r in records]
    replaced = {_entry_id(e) for e in new_entries}
    kept = [e for e in contents.get("v4_accounts", []) if _entry_id(e) not in replaced]
    contents["v4_accounts"] = kept + new_entries
    # The vault first: if writing it fails, no public file claims an account whose secrets are not stored.
    write_vault(vault_path, contents, vault_passphrase)
    for record in records:
        atomic_write_bytes(record.path, record.payload.to_bytes(), 0o644)
    verify_written(records, vault_path, vault_passphrase)
    return records


def verify_written(records: list[V4Record], vault_path: Path, passphrase: Secret[str]) -> None:
    """Read back every file: payloads byte for byte, and the vault's secrets must re-derive each key."""
    for record in records:
        again = decode_payload(read_untrusted_file(record.path))
        if again.to_bytes() != record.payload.to_bytes():
            raise VerificationError(f"{record.path} does not read back as written")
    stored = {_entry_id(e): e for e in read_vault(vault_path, passphrase).get("v4_accounts", [])}
    for record in records:
        entry = stored.get(_entry_id(vault_entry_public(record)))
        if entry is None:
            raise VerificationError(f"the vault lacks v4 account {record.source.index}")
        account = account_from_mnemonic(Secret(entry["mnemonic"]))
        if account.public_key != record.account.public_key or account.address != entry["address"]:
            raise VerificationError(f"vault v4 entry {record.source.index} does not re-derive its key")
        if entry["onboarding_signature"] is not None:
            entropy = Secret(entropy_from_signature(bytes.fromhex(entry["onboarding_signature"])))
            words = mnemonic_from_entropy(entropy).reveal()
            if not hmac.compare_digest(words.encode(), entry["mnemonic"].encode()):
                raise VerificationError(
                    f"vault v4 entry {record.source.index}: signature and mnemonic differ"
                )
        if entry["hd_path"] != HD_PATH:
            raise VerificationError(f"vault v4 entry {record.source.index} names another HD path")


def vault_entry_public(record: V4Record) -> dict[str, Any]:
    """The identifying fields of a record's vault entry, without revealing any secret."""
    return {
        "chain_id": record.payload.body["chain_id"],
        "key_source": record.key_source,
        "ethereum_address": record.origin.address if record.source.key is not None else None,
        "account": record.source.index,
    }


def v4_sources(
    key_options: KeySourceOptions, v4_mnemonic: V4MnemonicOptions, indices: list[int]
) -> list[V4Source]:
    """The accounts to derive or sign with: from exactly one key source (Ethereum key or v4 mnemonic)."""
    eth_given = key_options.keystore is not None or key_options.mnemonic_file is not None
    eth_given = eth_given or key_options.mnemonic_prompt
    if v4_mnemonic.given:
        if eth_given or (v4_mnemonic.file is not None and v4_mnemonic.prompt):
            raise InputError(
                "name exactly one key source: an Ethereum key (--keystore, --mnemonic-file, "
                "--mnemonic-prompt) or a v4 mnemonic (--v4-mnemonic-file, --v4-mnemonic-prompt)"
            )
        if indices != [0]:
            raise InputError("a v4 mnemonic is one account: use --account 0 / --accounts 0")
        phrase = get_secret("v4 mnemonic", v4_mnemonic.file, option_hint="--v4-mnemonic-file FILE")
        return [V4Source(0, None, phrase)]
    return [V4Source(k.index, k) for k in load_keys(key_options, indices)]
