"""The relay's half of an evidence bundle: receipts from its journals, signed with its Ed25519 key.

The key is made once, at relay set-up (``dydx-relay init-evidence-key``), stored 0600 in the state
directory, and its public half is registered with the auditor, who pins it (``dydx-audit verify
--relay-key``). It signs nothing but receipts: the signed bytes start with a fixed text
(shared/evidence/receipts.py).

Receipts are built read-only from the API journal (online/relay/journal.py), the on-chain journal
(online/onchain/tx_journal.py) and the v4 journal (online/v4/journal.py), and only after the bundle's cold
part verifies. They list *every* submission and broadcast the journals hold for the bundle's address and
network (for v4: every dYdX Chain address the bundle's v4 payloads name), not only those of payloads in the
bundle: a signature the cold side left out of its bundle (signed into another evidence log, say) but this
relay sent shows up as a receipt without its cold artefact, and the bundle fails verification. Secrets are
redacted once more here, whatever the journals already did: answer bodies and results pass through a
stricter redaction, and the onboarding request's DYDX-SIGNATURE header — the seed of the default API
credentials — is never copied (it is in the onboarding payload, where the auditor checks it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.shared import __version__
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.evidence.files import (
    BundleFiles,
    require_openable,
    write_bundle_archive,
    write_bundle_dir,
)
from dydx_airgap.shared.evidence.layout import RECEIPTS, RECEIPTS_SIG, RELAY_FILES
from dydx_airgap.shared.evidence.receipts import (
    build_receipts,
    encode_receipts_signature,
    receipts_signing_message,
)
from dydx_airgap.shared.evidence.verify import Verification, verify_bundle
from dydx_airgap.shared.fsutil import make_secret_dir, read_secret_file, write_secret_file
from dydx_airgap.shared.progress import BatchProgress
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload

KEY_FILE = "evidence-key.ed25519.pem"
REDACTED = "<redacted>"
#: Member names whose values never enter a receipt: compared lower-case, letters and digits only, by ending
#: ("apiSecret", "stark_private_key", "seedPhrase"), so "lost_secret_keys" (key ids) stays readable.
_SECRET_ENDINGS = ("secret", "passphrase", "privatekey", "mnemonic", "password", "seed", "seedphrase")
_SECRET_HEADERS = frozenset({"dydx-passphrase", "dydx-api-secret"})


# --- the relay's evidence key ---------------------------------------------------------------------------


def key_path(state_dir: Path) -> Path:
    return state_dir / KEY_FILE


def init_evidence_key(state_dir: Path) -> bytes:
    """Create the Ed25519 key (0600 from creation) and return its 32-byte public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = make_secret_dir(state_dir)
    path = key_path(directory)
    if path.exists() or path.is_symlink():
        raise InputError(
            f"{path} already exists: the relay's evidence key is made once (auditors have pinned it); "
            "'dydx-relay evidence-key' prints it"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_secret_file(path, pem)
    return public_key_bytes(load_evidence_key(directory))


def load_evidence_key(state_dir: Path) -> Any:
    """The relay's Ed25519 private key; refused if the file is readable by group or others."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_path(state_dir)
    if not path.exists():
        raise InputError(f"no relay evidence key in {state_dir}: run 'dydx-relay init-evidence-key' first")
    try:
        key = serialization.load_pem_private_key(read_secret_file(path, cap=4096), password=None)
    except ValueError:
        raise InputError(f"{path} is not a PEM Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} is not an Ed25519 key")
    return key


def public_key_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert isinstance(raw, bytes)
    return raw


def key_fingerprint(public_key: bytes) -> str:
    """A short form for reading aloud when registering the key: first 8 bytes of its SHA-256."""
    digest = hashlib.sha256(public_key).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


# --- redaction -------------------------------------------------------------------------------------------


def _secret_name(name: str) -> bool:
    folded = "".join(c for c in name.lower() if c.isalnum())
    return folded.endswith(_SECRET_ENDINGS)


def redact_value(value: Any, floats_as_text: bool = True) -> Any:
    """Secret-named members replaced; floats become their text (receipts are canonical JSON)."""
    if isinstance(value, dict):
        return {
            str(k): (
                REDACTED if _secret_name(str(k)) and v not in (None, "") else redact_value(v, floats_as_text)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v, floats_as_text) for v in value]
    if isinstance(value, float) and floats_as_text:
        return repr(value)
    return value


def redact_text(text: str | None) -> str | None:
    """A stored body: kept byte for byte unless redaction changes it (then re-serialised JSON)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text
    redacted = redact_value(data, floats_as_text=False)
    if redacted == data:
        return text
    return json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)


def _headers(raw: str, onboarding: bool) -> dict[str, str]:
    try:
        headers = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    out: dict[str, str] = {}
    for name, value in sorted(headers.items()) if isinstance(headers, dict) else []:
        lowered = str(name).lower()
        if lowered in _SECRET_HEADERS or (onboarding and lowered == "dydx-signature"):
            out[str(name)] = REDACTED
        else:
            out[str(name)] = str(value)
    return out


# --- receipts from the journals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddedReceipts:
    submissions: int
    transactions: int
    public_key: bytes
    verification: Verification


def _bundle_payloads(verification: Verification) -> dict[str, tuple[str, Payload]]:
    """{payload SHA-256: (bundle path, payload)} of a verified bundle."""
    manifest = verification.manifest
    assert manifest is not None
    paths = {a.path: a.sha256 for a in manifest.artefacts}
    return {paths[path]: (path, p) for path, p in verification.payloads.items()}


#: ``payload_sha256`` of a broadcast whose signed-tx payload is not in the bundle (the on-chain journal
#: keeps the raw transaction, not the payload that carried it).
UNKNOWN_PAYLOAD = "0" * 64


def _ours(address: str, network_id: int, manifest_address: str, manifest_network: int) -> bool:
    return network_id == manifest_network and address.lower() == manifest_address.lower()


def _submission_receipts(
    state_dir: Path, manifest_sha256: str, address: str, network_id: int
) -> list[dict[str, Any]]:
    from dydx_airgap.online.relay.journal import JOURNAL_FILE, Journal

    if not (state_dir / JOURNAL_FILE).exists():
        return []
    receipts = []
    with Journal.open(state_dir) as journal:
        for sub in journal.submissions():
            if not _ours(sub.address, sub.network_id, address, network_id):
                continue
            onboarding = sub.kind == "onboarding-request"
            exchanges = [
                {
                    "purpose": str(x["purpose"]),
                    "attempt": int(x["attempt"]),
                    "method": str(x["method"]),
                    "path": str(x["path"]),
                    "request_headers": _headers(str(x["request_headers"]), onboarding),
                    "request_body": redact_text(x["request_body"]),
                    "started_at": str(x["started_at"]),
                    "finished_at": str(x["finished_at"]),
                    "status": None if x["status"] is None else int(x["status"]),
                    "response_body": redact_text(x["response_body"]),
                    "failure": x["failure"],
                    "may_have_taken_effect": bool(x["may_have_taken_effect"]),
                }
                for x in journal.exchanges(sub.id)
            ]
            receipts.append(
                {
                    "manifest_sha256": manifest_sha256,
                    "journal_entry": sub.id,
                    "payload_sha256": sub.payload_digest,
                    "payload_id": sub.payload_id,
                    "kind": sub.kind,
                    "action": sub.action,
                    "network_id": sub.network_id,
                    "address": sub.address,
                    "api_origin": sub.api_origin,
                    "state": sub.state,
                    "note": sub.note,
                    "result": redact_value(sub.result),
                    "created_at": sub.created_at,
                    "updated_at": sub.updated_at,
                    "exchanges": exchanges,
                }
            )
    return receipts


def _transaction_receipts(
    state_dir: Path,
    manifest_sha256: str,
    payloads: dict[str, tuple[str, Payload]],
    address: str,
    network_id: int,
) -> list[dict[str, Any]]:
    signed = {p.body["tx_hash"]: sha for sha, (_, p) in payloads.items() if p.kind == "signed-tx"}
    # An escape's transactions travel together in one signed-escape payload.
    signed |= {
        item["tx_hash"]: sha
        for sha, (_, p) in payloads.items()
        if p.kind == "signed-escape"
        for item in p.body["transactions"]
    }
    try:
        from dydx_airgap.online.onchain.tx_journal import JOURNAL_FILE, TxJournal
    except ImportError:  # a relay without the on-chain part has broadcast nothing
        return []
    if not (state_dir / JOURNAL_FILE).exists():
        return []
    receipts = []
    with TxJournal.open(state_dir) as journal:
        for broadcast in journal.broadcasts_for(network_id, address):
            tx_hash = broadcast.tx_hash
            payload_sha = signed.get(tx_hash, UNKNOWN_PAYLOAD)
            request = journal.request(broadcast.request_id)
            events = [
                {"event": str(e["event"]), "detail": redact_text(str(e["detail"])) or "", "at": str(e["at"])}
                for e in journal.events(broadcast.request_id)
                if e["tx_hash"] in (None, tx_hash)
            ]
            raw = bytes.fromhex(broadcast.raw[2:] if broadcast.raw.startswith("0x") else broadcast.raw)
            receipts.append(
                {
                    "manifest_sha256": manifest_sha256,
                    "tx_hash": tx_hash,
                    "payload_sha256": payload_sha,
                    "request_id": broadcast.request_id,
                    # The SHA-256 of the request payload (one escape-request stands behind several rows).
                    "request_sha256": request.payload.digest.hex() if request is not None else None,
                    "raw_sha256": hashlib.sha256(raw).hexdigest(),
                    "state": broadcast.state,
                    "note": broadcast.note,
                    "block_number": broadcast.block_number,
                    "gas_used": broadcast.gas_used,
                    "rpc_origin": broadcast.rpc_origin,
                    "created_at": broadcast.created_at,
                    "updated_at": broadcast.updated_at,
                    "events": events,
                }
            )
    return receipts


#: v4 payloads whose body names the account's chain and address at its top level.
V4_OWN = frozenset({"v4-public-key", "v4-signed-tx"})


def _v4_transaction_receipts(
    state_dir: Path, manifest_sha256: str, payloads: dict[str, tuple[str, Payload]]
) -> list[dict[str, Any]]:
    """The same receipt as a v3 broadcast's, from the v4 journal: the node's origin in ``rpc_origin``, the
    block height in ``block_number``, what was sent and asked in ``events``."""
    signed = {p.body["tx_hash"]: sha for sha, (_, p) in payloads.items() if p.kind == "v4-signed-tx"}
    # The bundle's dYdX Chain accounts: every broadcast this relay made for them is listed, so a signature
    # left out of the bundle appears here without its cold artefact (and the bundle fails).
    accounts = sorted(
        {(str(p.body["chain_id"]), str(p.body["address"])) for _, p in payloads.values() if p.kind in V4_OWN}
        | {
            (str(p.body["tx"]["chain_id"]), str(p.body["tx"]["signer_address"]))
            for _, p in payloads.values()
            if p.kind == "v4-tx-request"
        }
    )
    if not accounts:
        return []
    from dydx_airgap.online.v4.journal import JOURNAL_FILE, V4Journal

    if not (state_dir / JOURNAL_FILE).exists():
        return []
    receipts = []
    with V4Journal.open(state_dir) as journal:
        for broadcast in journal.broadcasts_for(accounts):
            tx_hash = broadcast.tx_hash
            payload_sha = signed.get(tx_hash, UNKNOWN_PAYLOAD)
            request = journal.request(broadcast.request_id)
            events = [
                {"event": str(e["event"]), "detail": redact_text(str(e["detail"])) or "", "at": str(e["at"])}
                for e in journal.events(broadcast.request_id)
                if e["tx_hash"] in (None, tx_hash)
            ]
            receipts.append(
                {
                    "manifest_sha256": manifest_sha256,
                    "tx_hash": tx_hash,
                    "payload_sha256": payload_sha,
                    "request_id": broadcast.request_id,
                    # The SHA-256 of the request payload (one escape-request stands behind several rows).
                    "request_sha256": request.payload.digest.hex() if request is not None else None,
                    "raw_sha256": hashlib.sha256(bytes.fromhex(broadcast.raw)).hexdigest(),
                    "state": broadcast.state,
                    "note": broadcast.note,
                    "block_number": broadcast.height,
                    "gas_used": broadcast.gas_used,
                    "rpc_origin": broadcast.node_origin,
                    "created_at": broadcast.created_at,
                    "updated_at": broadcast.updated_at,
                    "events": events,
                }
            )
    return receipts


def add_receipts(
    bundle: BundleFiles, state_dir: Path, replace: bool = False, progress: BatchProgress | None = None
) -> tuple[dict[str, bytes], AddedReceipts]:
    """The bundle's files with relay/receipts.json and .sig added (signed); verified before returning.
    ``progress``: where a large bundle shows the two verifications' stages."""
    from dydx_airgap.online.state_dir import locked_state_dir

    files = dict(bundle.files)
    if any(name in files for name in RELAY_FILES):
        if not replace:
            raise InputError(f"{bundle.source} already has relay receipts; pass --replace to make them anew")
        for name in RELAY_FILES:
            files.pop(name, None)
    cold = verify_bundle(
        BundleFiles(bundle.source, files, list(bundle.problems), bundle.archive_name),
        cold_only=True,
        progress=progress,
    )
    if not cold.ok:
        first = cold.failures[0]
        raise VerificationError(
            f"the bundle's cold part does not verify ({first.name} {first.artefact}: {first.detail}); "
            "the relay countersigns only a bundle the cold key vouches for"
        )
    assert cold.manifest_sha256 is not None
    payloads = _bundle_payloads(cold)
    manifest = cold.manifest
    assert manifest is not None
    address, network_id = manifest.address, manifest.network_id
    with locked_state_dir(state_dir) as directory:
        key = load_evidence_key(directory)
        submissions = _submission_receipts(directory, cold.manifest_sha256, address, network_id)
        transactions = _transaction_receipts(directory, cold.manifest_sha256, payloads, address, network_id)
        transactions += _v4_transaction_receipts(directory, cold.manifest_sha256, payloads)
    public = public_key_bytes(key)
    receipts = build_receipts(
        tool_version=__version__,
        created=iso_ms(now_utc()),
        manifest_sha256=cold.manifest_sha256,
        relay_public_key=public.hex(),
        submissions=submissions,
        transactions=transactions,
    )
    digest = hashlib.sha256(receipts).digest()
    files[RECEIPTS] = receipts
    files[RECEIPTS_SIG] = encode_receipts_signature(
        public, digest, key.sign(receipts_signing_message(digest))
    )
    verification = verify_bundle(
        BundleFiles(bundle.source, files, [], bundle.archive_name), relay_key=public, progress=progress
    )
    if not verification.ok:
        first = verification.failures[0]
        raise VerificationError(
            f"the bundle with this relay's receipts fails {first.name} {first.artefact}: {first.detail}; "
            "nothing was written"
        )
    return files, AddedReceipts(len(submissions), len(transactions), public, verification)


def write_receipts(target: Path, bundle: BundleFiles, files: dict[str, bytes]) -> None:
    """Store the relay files: into the directory, or by rewriting the archive (atomically)."""
    if bundle.archive_name is None:
        require_openable(files)  # the whole bundle, though only the relay's files are written
        write_bundle_dir(target, {name: files[name] for name in RELAY_FILES})
    else:
        write_bundle_archive(target, files)
