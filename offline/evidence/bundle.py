"""Building an evidence bundle on the cold machine: the log's artefacts, a manifest, the cold key's signature.

The evidence log says what was signed (kind, payload id, SHA-256, file name); the ``--from`` directories
hold the files. Each file the log names is found (by name, else by SHA-256 — files get renamed on USB
sticks) and must hash to what the log recorded: a file changed after signing stops the bundle. Signed
transactions bring the tx-request they answer (found by the SHA-256 the log recorded); public-key payloads
of the same address and network come along so the auditor can compare STARK keys.

Everything is assembled and verified in memory (the auditor's own checks, with the no-secret scan) before a
byte is written; the written bundle is then read back and verified again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dydx_airgap.offline.evidence.log import MAX_LOG_BYTES
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.shared import __version__
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import AirgapError, FormatError, InputError, VerificationError
from dydx_airgap.shared.evidence.files import BundleFiles, load_bundle, write_bundle_dir
from dydx_airgap.shared.evidence.layout import MANIFEST, MANIFEST_SIG, cold_path, safe_file_name
from dydx_airgap.shared.evidence.log_chain import LogEntry, read_log_bytes
from dydx_airgap.shared.evidence.manifest import (
    EVIDENCE_LOG_KIND,
    Artefact,
    LogReference,
    Manifest,
    encode_manifest_signature,
)
from dydx_airgap.shared.evidence.message import manifest_message
from dydx_airgap.shared.evidence.verify import Verification, verify_bundle
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.progress import BatchProgress, disabled
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import MAX_PAYLOAD_BYTES, Payload, decode_payload
from dydx_airgap.shared.transport.secrecy import bytes_carry_secret_seed

#: Files in one --from directory we are willing to look at (USB sticks with photo archives exist).
MAX_FILES_PER_DIR = 20_000


@dataclass(frozen=True)
class Candidate:
    directory: Path
    name: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class BuiltBundle:
    out: Path
    manifest: Manifest
    manifest_sha256: str
    verification: Verification
    made_public: bool = False  # the key's public file was made now (none was in the --from directories)


def _index(directories: list[Path], skip: set[Path]) -> list[Candidate]:
    """Every regular, payload-sized file directly inside the --from directories (no links followed)."""
    found: list[Candidate] = []
    for directory in directories:
        if directory.is_symlink() or not directory.is_dir():
            raise InputError(f"--from {directory} is not a directory")
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        if len(entries) > MAX_FILES_PER_DIR:
            raise InputError(f"--from {directory} holds more than {MAX_FILES_PER_DIR} entries")
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            path = Path(entry.path)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PAYLOAD_BYTES or path.resolve() in skip:
                continue
            data = read_untrusted_file(path, cap=MAX_PAYLOAD_BYTES)
            if not st.st_mode & 0o044 and not bytes_carry_secret_seed(data):
                # Readable by its owner only: a secret (vault, mnemonic, password), never evidence — except a
                # seed-carrying payload such as the onboarding request, which is signed evidence kept 0600.
                continue
            found.append(Candidate(directory, entry.name, data, hashlib.sha256(data).hexdigest()))
    return found


class _Lookup:
    """The candidates by SHA-256 and by name, each list in the order the directories were searched: one
    dictionary lookup per artefact the log names (a scan of every candidate each time made bundling ten
    thousand artefacts quadratic)."""

    def __init__(self, candidates: list[Candidate]) -> None:
        self.by_hash: dict[str, list[Candidate]] = {}
        self.by_name: dict[str, list[Candidate]] = {}
        for c in candidates:
            self.by_hash.setdefault(c.sha256, []).append(c)
            self.by_name.setdefault(c.name, []).append(c)


def _find(lookup: _Lookup, sha256: str, name: str | None, what: str) -> Candidate:
    by_hash = lookup.by_hash.get(sha256, [])
    if by_hash:
        named = [c for c in by_hash if c.name == name]
        return (named or by_hash)[0]
    same_name = lookup.by_name.get(name, []) if name is not None else []
    if same_name:
        c = same_name[0]
        raise VerificationError(
            f"{c.directory / c.name} is not the {what} the evidence log records (SHA-256 {c.sha256[:16]}… "
            f"instead of {sha256[:16]}…): it changed after signing; find the original"
        )
    raise InputError(
        f"no --from directory holds the {what} {name or ''} (SHA-256 {sha256[:16]}…): add the directory "
        "it is in with another --from (files only their owner may read are skipped as secrets)"
    )


def _payload_of(candidate: Candidate) -> Payload:
    try:
        return decode_payload(candidate.data)
    except FormatError as exc:
        raise VerificationError(f"{candidate.directory / candidate.name}: {exc.message}") from None


class _Collector:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.artefacts: list[Artefact] = []
        self.hashes: set[str] = set()

    def add(self, name: str, data: bytes, kind: str, payload: Payload | None, log_seq: int | None) -> None:
        sha = hashlib.sha256(data).hexdigest()
        if sha in self.hashes:
            return  # the same file found twice (two --from directories): one copy is enough
        path = self._path(name, payload)
        self.files[path] = data
        self.hashes.add(sha)
        self.artefacts.append(
            Artefact(
                path=path,
                kind=kind,
                sha256=sha,
                size=len(data),
                payload_id=payload.id if payload else None,
                fingerprint=payload.fingerprint if payload else None,
                log_seq=log_seq,
            )
        )

    def _path(self, name: str, payload: Payload | None) -> str:
        if not safe_file_name(name) or len(name) > 60:
            name = f"{payload.kind}-{payload.id[:8]}.json" if payload else "evidence-log.jsonl"
        path = cold_path(name)
        if path in self.files and payload is not None:
            path = cold_path(f"{payload.fingerprint}-{name}"[:80])
        if path in self.files:
            raise InputError(f"two different artefacts would both be called {path} in the bundle")
        return path


def _policy(entries: list[LogEntry], address: str, network_id: int) -> dict[str, Any]:
    """The policy in force as the log recorded it: how each signature was confirmed, overrides, caps."""
    mine = [
        e
        for e in entries
        if e.get("event") == "sign" and e.get("address") == address and e.get("network_id") == network_id
    ]
    confirmations = Counter(str(e.get("confirmation")) for e in mine)
    return {
        "confirmations": dict(sorted(confirmations.items())),
        "doctor_overrides": [e.seq for e in entries if e.get("event") == "doctor-override"],
        "recorded": [{"seq": e.seq, "policy": e.get("policy")} for e in mine if e.get("policy") is not None],
    }


#: A signed transaction brings the request it answers (found by the SHA-256 its body records).
ANSWERED_REQUEST = {
    "signed-tx": "tx-request",
    "v4-signed-tx": "v4-tx-request",
    "signed-escape": "escape-request",
}
#: Public files of this key on this network join the bundle whether or not the log names them.
PUBLIC_KEY_KINDS = frozenset({"public-key", "v4-public-key"})


def build_bundle(
    key: ColdKey,
    network: Network,
    log_path: Path,
    from_dirs: list[Path],
    out: Path,
    own_public: Callable[[], tuple[str, Payload]] | None = None,
    progress: BatchProgress | None = None,
) -> BuiltBundle:
    """``own_public`` makes the key's public file (name, payload) when none of the --from directories holds
    one for this network: an auditor cross-checks the STARK key against it, and operators rarely think of
    passing derive's output folder. ``progress``: where a large bundle shows its stages."""
    shown = progress if progress is not None else disabled()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists: a bundle is never overwritten; choose another --out")
    log_bytes = read_untrusted_file(log_path, cap=MAX_LOG_BYTES)
    entries = read_log_bytes(log_bytes, str(log_path))
    mine = [
        e
        for e in entries
        if e.get("event") == "sign"
        and e.get("address") == key.address
        and e.get("network_id") == network.chain_id
    ]
    if not mine:
        raise InputError(
            f"the evidence log {log_path} records no signature by {key.address} on {network.label}: "
            "check --network, the key and --account"
        )
    shown.stage("reading the --from directories")
    candidates = _index(from_dirs, {log_path.resolve()})
    lookup = _Lookup(candidates)
    collected = _Collector()
    advance = shown.stage("collecting what the log records", len(mine))
    for entry in mine:
        advance(1)
        sha, name = str(entry.get("payload_sha256")), entry.get("file")
        found = _find(lookup, sha, name if isinstance(name, str) else None, f"{entry.get('kind')} payload")
        payload = _payload_of(found)
        if (payload.id, payload.kind) != (entry.get("payload_id"), entry.get("kind")):
            raise VerificationError(
                f"{found.directory / found.name} is not the payload log entry {entry.seq} names"
            )
        collected.add(found.name, found.data, payload.kind, payload, entry.seq)
        request_kind = ANSWERED_REQUEST.get(payload.kind)
        if request_kind is not None:
            request_sha = str(payload.body["request_sha256"])
            request = _find(lookup, request_sha, None, f"{request_kind} this transaction answers")
            collected.add(request.name, request.data, request_kind, _payload_of(request), None)
    for candidate in candidates:
        if candidate.sha256 in collected.hashes:
            continue  # already in the bundle, decoded and checked above
        try:
            payload = decode_payload(candidate.data)
        except AirgapError:
            continue  # not a payload (or not ours): bundles only carry what the log or the key vouches for
        if payload.kind in PUBLIC_KEY_KINDS and (payload.address, payload.network_id) == (
            key.address,
            network.chain_id,
        ):
            collected.add(candidate.name, candidate.data, payload.kind, payload, None)
    v3_signed = any(not a.kind.startswith("v4-") for a in collected.artefacts)
    if own_public is not None and v3_signed and not any(a.kind == "public-key" for a in collected.artefacts):
        name, public = own_public()
        collected.add(name, public.to_bytes(), public.kind, public, None)
        made_public = True
    else:
        made_public = False
    log_name = log_path.name
    collected.add(log_name, log_bytes, EVIDENCE_LOG_KIND, None, None)
    log_artefact = next(a for a in collected.artefacts if a.kind == EVIDENCE_LOG_KIND)
    manifest = Manifest(
        tool_version=__version__,
        network_id=network.chain_id,
        address=key.address,
        created=iso_ms(now_utc()),
        policy=_policy(entries, key.address, network.chain_id),
        evidence_log=LogReference(
            path=log_artefact.path,
            entries=len(entries),
            head_sha256=entries[-1].line_sha256 if entries else "0" * 64,
        ),
        artefacts=tuple(sorted(collected.artefacts, key=lambda a: a.path)),
    )
    manifest_bytes = manifest.to_bytes()
    digest = hashlib.sha256(manifest_bytes).digest()
    signature = key.sign_evidence_manifest(network.chain_id, digest)
    files = dict(collected.files)
    files[MANIFEST] = manifest_bytes
    files[MANIFEST_SIG] = encode_manifest_signature(
        manifest_message(network.chain_id, key.address, digest), signature
    )
    # The auditor's checks, before anything is written: a bundle that would fail them is not made.
    verification = verify_bundle(BundleFiles(str(out), files), cold_only=True, progress=shown)
    _require_pass(verification, "the bundle about to be written")
    shown.stage(f"writing {len(files):,} files")
    write_bundle_dir(out, files)
    shown.stage("reading back")
    # Read back as the auditor's tool reads it: the same files, byte for byte, and nothing the reader objects
    # to (layout, links, sizes). verify_bundle depends on nothing else, so checking the copy on disk again
    # would repeat the verdict above (half the command's time at 10,000 artefacts).
    again = load_bundle(out)
    if again.problems:
        path, why = again.problems[0]
        raise VerificationError(f"{out}: {path} {why} after writing")
    if again.files != files:
        raise VerificationError(f"{out} does not read back as written")
    return BuiltBundle(out, manifest, digest.hex(), verification, made_public)


def _require_pass(verification: Verification, what: str) -> None:
    failures = verification.failures
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise VerificationError(
            f"{what} fails its own check {first.name} on {first.artefact}: {first.detail}{more}"
        )
