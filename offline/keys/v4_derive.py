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

A batch of Ethereum-key accounts is derived on every core (shared/parallel.py: each worker signs, derives
the account — its PBKDF2 is most of the cost — and builds and validates the public payload; the account's
secrets travel only from a worker to its parent, over a one-way pipe, as length-prefixed bytes), the
public files are written as one batch beside the vault's Argon2id (fsutil.StagedWrites), and the
read-back compares with memory instead of running PBKDF2 again (:func:`verify_written`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydx_airgap.offline.keys.batch import pack_fields, run_in_workers, unpack_records, worker_count
from dydx_airgap.offline.keys.cold_key import ColdKey, derive_v4_account
from dydx_airgap.offline.keys.derive import CONTENTS_FORMAT, VAULT_NAME
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.keys.sources import AccountKey, load_keys
from dydx_airgap.offline.keys.v4_account import V4Account, account_from_mnemonic
from dydx_airgap.offline.keys.vault import read_vault, write_vault
from dydx_airgap.offline.options import KeySourceOptions, V4MnemonicOptions
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.onboarding import HD_PATH
from dydx_airgap.shared.errors import FormatError, InputError, VerificationError
from dydx_airgap.shared.fsutil import StagedWrites, make_secret_dir, read_untrusted_file
from dydx_airgap.shared.progress import BatchProgress, disabled
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import (
    Payload,
    new_payload_and_bytes,
    rebuild_validated_payload,
)

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
    #: The payload's bytes, as encoded once and validated by the decoder (origin signature included).
    data: bytes = field(repr=False, default=b"")

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
    return public_payload_and_bytes(network, record_source, account, origin)[0]


def public_payload_and_bytes(
    network: V4Network, record_source: V4Source, account: V4Account, origin: ColdKey
) -> tuple[Payload, bytes]:
    from_eth = record_source.key is not None
    return new_payload_and_bytes(
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


def _record_fields(network: V4Network, source: V4Source) -> list[bytes]:
    """What a worker derives for one Ethereum-key source: the account's parts and its validated payload."""
    account, signature, origin = derive_one(network, source)
    _payload, data = public_payload_and_bytes(network, source, account, origin)
    return [
        signature.reveal() if signature is not None else b"",
        account.mnemonic.reveal().encode("utf-8"),
        account.seed.reveal(),
        account.private_key.reveal(),
        account.public_key,
        account.address.encode("ascii"),
        account.noble_address.encode("ascii"),
        data,
    ]


def _record_from_fields(network: V4Network, source: V4Source, fields: list[bytes], out_dir: Path) -> V4Record:
    signature, mnemonic, seed, private_key, public_key, address, noble, data = fields
    account = V4Account(
        mnemonic=Secret(mnemonic.decode("utf-8")),
        seed=Secret(seed),
        private_key=Secret(private_key),
        public_key=public_key,
        address=address.decode("ascii"),
        noble_address=noble.decode("ascii"),
    )
    assert source.key is not None
    payload = rebuild_validated_payload(data)
    body = payload.body
    if (
        payload.kind != "v4-public-key"
        or payload.address != source.key.key.address
        or body["account"] != source.index
        or (body["public_key"], body["address"], body["noble_address"])
        != (account.public_key.hex(), account.address, account.noble_address)
    ):
        raise VerificationError(f"the v4 public file of account {source.index} does not match its derivation")
    path = out_dir / public_file_name(network, source.index)
    return V4Record(source, account, source.key.key, Secret(signature), payload, path, data)


_RECORD_FIELDS = 8


def derive_records(
    network: V4Network,
    sources: list[V4Source],
    out_dir: Path,
    progress: BatchProgress,
    workers: int | None = None,
) -> list[V4Record]:
    """One record per source; a batch of Ethereum-key sources on every core (``workers``: as batch.py's)."""
    advance = progress.stage("deriving", len(sources)) if progress.enabled else None
    if all(source.key is not None for source in sources):
        count = worker_count(workers, len(sources))
        if count > 1:
            chunks = run_in_workers(
                len(sources),
                lambda start, stop: b"".join(
                    pack_fields(*_record_fields(network, source)) for source in sources[start:stop]
                ),
                count,
                advance,
            )
            unpacked = unpack_records(chunks, len(sources), _RECORD_FIELDS)
            if unpacked is not None:
                return [
                    _record_from_fields(network, source, fields, out_dir)
                    for source, fields in zip(sources, unpacked, strict=True)
                ]
    records = []
    for source in sources:
        account, signature, origin = derive_one(network, source)
        payload, data = public_payload_and_bytes(network, source, account, origin)
        path = out_dir / public_file_name(network, source.index)
        records.append(V4Record(source, account, origin, signature, payload, path, data))
        if advance is not None:
            advance(1)
    return records


def derive_v4_to_directory(
    network: V4Network,
    sources: list[V4Source],
    out_dir: Path,
    vault_passphrase: Secret[str],
    overwrite: bool,
    progress: BatchProgress | None = None,
    workers: int | None = None,
) -> list[V4Record]:
    if not sources:
        raise InputError("no accounts to derive")
    shown = progress if progress is not None else disabled()
    # Derive everything first: a bad key source must not leave even an empty directory behind.
    records = derive_records(network, sources, out_dir, shown, workers)
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
    shown.stage(f"writing the vault and {len(records):,} files")
    # The public files' temporaries are written while Argon2id encrypts the vault, and renamed only after
    # the vault is installed: if writing it fails, no public file claims an account whose secrets are
    # not stored.
    with StagedWrites([(record.path, record.data) for record in records], 0o644) as public_files:
        write_vault(vault_path, contents, vault_passphrase)
        public_files.install()
    shown.stage("reading back")
    verify_written(records, vault_path, vault_passphrase, contents)
    return records


def verify_written(
    records: list[V4Record], vault_path: Path, passphrase: Secret[str], contents: dict[str, Any]
) -> None:
    """Read back every file before success is reported; each check and what it proves:

    * each public file reads back byte for byte as the bytes the payload decoder validated (seal, fields,
      origin signature) before they were written;
    * the vault, read from disk, decrypts with the passphrase (the whole Argon2id and AES-GCM path a later
      command takes) to exactly the contents meant: each v4 entry holds the very onboarding signature and
      mnemonic in memory from which the published public key and addresses were derived. Deriving the key
      from the stored mnemonic again would repeat PBKDF2's 2048 rounds, most of a v4 derivation, only to
      reach the same equality.
    """
    for record in records:
        if read_untrusted_file(record.path) != record.data:
            raise VerificationError(f"{record.path} does not read back as written")
    stored_contents = read_vault(vault_path, passphrase)
    if stored_contents != contents:
        raise VerificationError(f"{vault_path} does not decrypt to the accounts just written")
    stored = {_entry_id(e): e for e in stored_contents.get("v4_accounts", [])}
    for record in records:
        entry = stored.get(_entry_id(vault_entry_public(record)))
        if entry is None:
            raise VerificationError(f"the vault lacks v4 account {record.source.index}")
        body = record.payload.body
        if (entry["public_key"], entry["address"], entry["noble_address"], entry["hd_path"]) != (
            body["public_key"],
            body["address"],
            body["noble_address"],
            HD_PATH,
        ) or entry["mnemonic"] != record.account.mnemonic.reveal():
            raise VerificationError(f"vault v4 entry {record.source.index} does not match its public file")


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
