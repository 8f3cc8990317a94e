"""Verifying a bundle with public data only: every hash, every signature, the links between them.

What is checked (names as ``dydx-audit verify`` prints them):

* ``archive`` / ``bundle-files`` — the container: a canonical archive, regular files with safe names;
* ``manifest`` — canonical JSON of the known format; ``manifest-signature`` — manifest.sig is the cold
  key's EIP-191 signature of exactly this manifest's SHA-256 and recovers to the manifest's address;
* ``bundle-layout`` — the files are exactly the manifest's artefacts plus the signature and relay files;
* ``artefact-hash`` — each artefact's SHA-256 and size;
* ``evidence-log`` — the log's hash chain, its length and last line as the manifest states them, and one
  artefact for each signature it records for this address and network (and one entry per signed artefact);
* ``payload`` — each payload decodes strictly and is the kind, id, fingerprint, network and address stated;
* ``request-signatures`` — EIP-712 requests (onboarding, every rung of a ladder) recover to the address on
  the stated chain; ``transaction`` — signed transactions recover to the address and are exactly the
  transaction their tx-request asked for; ``cross-references`` — the STARK key agrees across payloads and
  the log's EIP-712 digests are the payloads' own;
* ``relay-signature`` — Ed25519 over receipts.json (against ``--relay-key`` when given);
  ``relay-receipts`` — the receipts name this manifest, every one concerns a payload of this bundle (the
  relay lists everything it sent for the address and network, so an omitted signature fails here), and
  what was sent is what was signed; ``--log-head`` — the log reaches a head the operator wrote down;
* ``no-secret`` — see :mod:`.secret_scan`.

Each check reports on the data it can read even when another failed, so one altered byte is named by the
check it breaks and the artefact it is in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import coincurve

from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    eth_private_action_digest,
    onboarding_action_digest,
)
from dydx_airgap.shared.dydx_v3.escape.calldata import EscapeCall, VerifyEscapeCall, decode_escape_hatch_call
from dydx_airgap.shared.dydx_v3.escape.sources import escape_data_from_json
from dydx_airgap.shared.dydx_v3.escape.summary import verify_escape_data
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_rung, verify_onboarding_signature
from dydx_airgap.shared.dydx_v4.request import unsigned_from_fields
from dydx_airgap.shared.dydx_v4.tx import parse_tx
from dydx_airgap.shared.errors import AirgapError, VerificationError
from dydx_airgap.shared.ethereum.address import address_from_public_key, same_address, to_checksum_address
from dydx_airgap.shared.ethereum.transaction import SignedEip1559Transaction, decode_signed_transaction
from dydx_airgap.shared.ethereum.typed_signature import TypedSignature, recover_hash_signer
from dydx_airgap.shared.evidence.checks import CheckList, CheckResult
from dydx_airgap.shared.evidence.files import BundleFiles
from dydx_airgap.shared.evidence.layout import (
    MANIFEST,
    MANIFEST_SIG,
    RECEIPTS,
    RECEIPTS_SIG,
    RELAY_DIR,
    TOP_LEVEL_FILES,
)
from dydx_airgap.shared.evidence.log_chain import LogEntry, read_log_bytes
from dydx_airgap.shared.evidence.manifest import Artefact, Manifest, parse_manifest, parse_manifest_signature
from dydx_airgap.shared.evidence.message import manifest_message, manifest_message_hash
from dydx_airgap.shared.evidence.receipts import Receipts, parse_receipts, verify_receipts_signature
from dydx_airgap.shared.evidence.secret_scan import SecretScanner
from dydx_airgap.shared.parallel import map_public
from dydx_airgap.shared.progress import Advance, BatchProgress, disabled
from dydx_airgap.shared.timestamps import parse_iso_ms
from dydx_airgap.shared.transport.bodies_v4 import check_signed_tx
from dydx_airgap.shared.transport.payload import Payload, decode_payload, fingerprint_of

NOT_PINNED = "relay key not pinned"
SIGNER_NOT_PINNED = "signer address not pinned"


@dataclass
class Verification:
    """The outcome, plus what was decoded on the way (the HTML report shows it)."""

    source: str
    checks: list[CheckResult]
    manifest: Manifest | None = None
    manifest_sha256: str | None = None
    payloads: dict[str, Payload] = field(default_factory=dict)
    log_entries: list[LogEntry] = field(default_factory=list)
    receipts: Receipts | None = None
    relay_key: str | None = None
    relay_key_pinned: bool = False
    signer_pinned: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.source,
            "ok": self.ok,
            "manifest_sha256": self.manifest_sha256,
            "network_id": self.manifest.network_id if self.manifest else None,
            "address": self.manifest.address if self.manifest else None,
            "relay_key": self.relay_key,
            "relay_key_pinned": self.relay_key_pinned,
            "signer_pinned": self.signer_pinned,
            "checks": [c.to_json() for c in self.checks],
        }


_T = TypeVar("_T")


def _message(exc: Exception) -> str:
    if isinstance(exc, AirgapError):
        return exc.message
    return f"unreadable ({type(exc).__name__})"


def verify_bundle(
    bundle: BundleFiles,
    relay_key: bytes | None = None,
    cold_only: bool = False,
    signer: str | None = None,
    log_head: str | None = None,
    progress: BatchProgress | None = None,
) -> Verification:
    """Run every check on a bundle in memory.

    ``relay_key`` and ``signer`` pin the relay's Ed25519 key and the cold key's address the firm registered;
    without them the bundle is checked against the keys it states (and the verdict lines say so).
    ``cold_only``: a bundle before the relay added its receipts. ``log_head``: the SHA-256 of a log line the
    operator wrote down after a signature (printed by every ``sign``); the bundle's log must contain it.
    ``progress``: where a large bundle shows its stages on a terminal (shared/progress.py).
    """
    verifier = _Verifier(bundle, relay_key, cold_only, signer)
    verifier.log_head = None if log_head is None else log_head.strip().lower()
    verifier.progress = progress if progress is not None else disabled()
    return verifier.run()


class _Verifier:
    def __init__(
        self, bundle: BundleFiles, relay_key: bytes | None, cold_only: bool, signer: str | None
    ) -> None:
        self.bundle = bundle
        self.signer = signer
        self.files = bundle.files
        self.relay_key = relay_key
        self.cold_only = cold_only
        self.checks = CheckList()
        self.result = Verification(source=bundle.source, checks=[])
        self.accounted: set[bytes] = set()  # signature cores verified as something legitimate
        self.addresses: set[str] = set()
        self.log_head: str | None = None
        self.by_sha: dict[str, Payload] = {}  # every decoded payload by the SHA-256 of its file
        self.digests: dict[str, list[str]] = {}  # a ladder's EIP-712 digests (hex) by artefact path
        self.progress = disabled()

    # ---- driver ----

    def run(self) -> Verification:
        self._container()
        manifest = self._manifest()
        if manifest is not None:
            self.addresses.add(manifest.address)
            self._manifest_signature(manifest)
            self._layout(manifest)
            self._hashes(manifest)
            self._payloads(manifest)
            self._log(manifest)
        if RECEIPTS in self.files or RECEIPTS_SIG in self.files:
            self._relay(manifest)
        elif not self.cold_only:
            self.checks.fail(
                "relay-receipts",
                RELAY_DIR + "/",
                "the bundle has no relay receipts: run 'dydx-relay evidence add-receipts' on it, or pass "
                "--cold-only to check the cold part alone",
            )
        self._secrets(manifest)
        self.result.checks = self.checks.ordered()
        return self.result

    # ---- container, manifest ----

    def _container(self) -> None:
        for where, message in self.bundle.problems:
            in_archive = self.bundle.archive_name is not None and where.startswith(self.bundle.archive_name)
            self.checks.fail("archive" if in_archive else "bundle-files", where, message)
        if self.bundle.archive_name and not any(
            p[0].startswith(self.bundle.archive_name) for p in self.bundle.problems
        ):
            self.checks.ok("archive", self.bundle.archive_name, "canonical archive of regular files only")

    def _manifest(self) -> Manifest | None:
        data = self.files.get(MANIFEST)
        if data is None:
            self.checks.fail("manifest", MANIFEST, "missing: this is not an evidence bundle")
            return None
        self.result.manifest_sha256 = hashlib.sha256(data).hexdigest()
        try:
            manifest = parse_manifest(data)
        except Exception as exc:  # noqa: BLE001 - hostile input: any failure is a verdict
            self.checks.fail("manifest", MANIFEST, _message(exc))
            return None
        self.result.manifest = manifest
        network = NETWORKS[manifest.network_id]
        self.checks.ok(
            "manifest",
            MANIFEST,
            f"{len(manifest.artefacts)} artefacts for {manifest.address} on {network.label}, "
            f"created {manifest.created} by dydx-airgap {manifest.tool_version}",
        )
        return manifest

    def _manifest_signature(self, manifest: Manifest) -> None:
        data = self.files.get(MANIFEST_SIG)
        if data is None:
            self.checks.fail("manifest-signature", MANIFEST_SIG, "missing: the manifest is not signed")
            return
        digest = hashlib.sha256(self.files[MANIFEST]).digest()
        try:
            message, signature = parse_manifest_signature(data)
            expected = manifest_message(manifest.network_id, manifest.address, digest)
            if message != expected:
                raise VerificationError(
                    "the signed text does not name manifest.json as it is (its SHA-256 "
                    f"{digest.hex()[:16]}…, chain id {manifest.network_id}, address {manifest.address})"
                )
            signer = recover_hash_signer(
                manifest_message_hash(manifest.network_id, manifest.address, digest), signature
            )
            if signer != manifest.address:
                raise VerificationError(
                    f"manifest.sig recovers to {signer}, not the manifest's address {manifest.address}"
                )
            if self.signer is not None and not same_address(self.signer, signer):
                raise VerificationError(f"the bundle is signed by {signer}, not the pinned {self.signer}")
        except Exception as exc:  # noqa: BLE001
            self.checks.fail("manifest-signature", MANIFEST_SIG, f"{_message(exc)} (manifest.json)")
            return
        self.accounted.add(typed_signature_core(signature))
        self.result.signer_pinned = self.signer is not None
        pin = (
            "the pinned address" if self.signer is not None else f"the address it states; {SIGNER_NOT_PINNED}"
        )
        self.checks.ok(
            "manifest-signature",
            MANIFEST_SIG,
            f"EIP-191 signature of manifest.json (SHA-256 {digest.hex()}) recovers to {pin} "
            f"({manifest.address})",
        )

    def _layout(self, manifest: Manifest) -> None:
        expected = {a.path for a in manifest.artefacts} | set(TOP_LEVEL_FILES)
        present = set(self.files)
        relay = {p for p in present if p.startswith(RELAY_DIR + "/")}
        extra = sorted(present - expected - {RECEIPTS, RECEIPTS_SIG})
        missing = sorted(expected - present)
        for path in extra:
            self.checks.fail("bundle-layout", path, "is not listed in manifest.json (added after signing?)")
        for path in missing:
            self.checks.fail("bundle-layout", path, "is listed in manifest.json but missing from the bundle")
        if relay and relay != {RECEIPTS, RECEIPTS_SIG}:
            for path in sorted({RECEIPTS, RECEIPTS_SIG} - relay):
                self.checks.fail("bundle-layout", path, "missing: the relay part needs both receipts files")
        if not extra and not missing:
            self.checks.ok("bundle-layout", "bundle", f"{len(present)} files, exactly as the manifest lists")

    def _hashes(self, manifest: Manifest) -> None:
        good = 0
        for art in manifest.artefacts:
            data = self.files.get(art.path)
            if data is None:
                continue  # reported by bundle-layout
            actual = hashlib.sha256(data).hexdigest()
            if actual != art.sha256 or len(data) != art.size:
                self.checks.fail(
                    "artefact-hash",
                    art.path,
                    f"SHA-256 {actual[:16]}… ({len(data)} bytes) is not the manifest's "
                    f"{art.sha256[:16]}… ({art.size} bytes): the file was altered",
                )
            else:
                good += 1
        if good == len(manifest.artefacts):
            self.checks.ok("artefact-hash", "bundle", f"all {good} artefacts match their SHA-256 and size")

    # ---- payloads ----

    def _payloads(self, manifest: Manifest) -> None:
        arts = [a for a in manifest.artefacts if a.is_payload and self.files.get(a.path) is not None]
        # Decoding each payload and checking the signatures of its requests depend on that file and the
        # manifest alone: large bundles do it on every core (_prepare_all), the bookkeeping stays here.
        advance = self.progress.stage("checking payloads", len(arts))
        prepared = _prepare_all(arts, self.files, manifest, advance)
        by_sha: dict[str, Payload] = {}
        for art, ready in zip(arts, prepared, strict=True):
            if ready.payload is None:
                self.checks.fail("payload", art.path, ready.error or "")
                continue
            payload = ready.payload
            self.result.payloads[art.path] = payload
            by_sha[ready.sha256] = payload
            self.by_sha = by_sha
            if payload.origin is not None:  # decoding verified it: the cold key's origin signature
                self.accounted.add(typed_signature_core(TypedSignature.from_hex(payload.origin)))
            if payload.address is not None:
                self.addresses.add(payload.address)
        if manifest.artefacts and not self.checks.failed("payload"):
            self.checks.ok(
                "payload",
                "bundle",
                f"{len(self.result.payloads)} payloads decode strictly and match the manifest",
            )
        ready_by_path = {art.path: ready for art, ready in zip(arts, prepared, strict=True)}
        for path, payload in sorted(self.result.payloads.items()):
            ready = ready_by_path[path]
            if ready.signatures is not None:
                verdict, message, cores, digests = ready.signatures
                self.accounted.update(cores)
                if verdict == "ok":
                    if digests is not None:
                        self.digests[path] = digests  # the log's entry must name these (_entry_mismatch)
                    self.checks.ok("request-signatures", path, message)
                else:
                    self.checks.fail("request-signatures", path, message)
                continue
            try:
                self._payload_signatures(path, payload, by_sha, manifest)
            except Exception as exc:  # noqa: BLE001
                name = (
                    "transaction"
                    if payload.kind in ("signed-tx", "v4-signed-tx", "signed-escape")
                    else "request-signatures"
                )
                self.checks.fail(name, path, _message(exc))
        self._stark_keys()

    @staticmethod
    def _payload_matches(art: Artefact, payload: Payload, manifest: Manifest, fingerprint: str) -> None:
        wrong = []
        if payload.kind != art.kind:
            wrong.append(f"kind {payload.kind} (manifest: {art.kind})")
        if payload.id != art.payload_id:
            wrong.append("id")
        if fingerprint != art.fingerprint:
            wrong.append(f"fingerprint {fingerprint} (manifest: {art.fingerprint})")
        if payload.network_id != manifest.network_id:
            wrong.append(f"network {payload.network_id} (manifest: {manifest.network_id})")
        if payload.address is not None and payload.address != manifest.address:
            wrong.append(f"address {payload.address} (manifest: {manifest.address})")
        if wrong:
            raise VerificationError("differs from the manifest: " + "; ".join(wrong))

    def _payload_signatures(
        self, path: str, payload: Payload, by_sha: dict[str, Payload], manifest: Manifest
    ) -> None:
        body = payload.body
        address = manifest.address
        if payload.kind in ("onboarding-request", "eth-private-request"):
            verdict, message, cores, digests = _request_signatures(payload, address)
            if verdict != "ok":
                raise VerificationError(message)
            self.accounted.update(cores)
            if digests is not None:
                self.digests[path] = digests
            self.checks.ok("request-signatures", path, message)
        elif payload.kind == "signed-tx":
            self._signed_tx(path, payload, by_sha, address)
        elif payload.kind == "v4-signed-tx":
            self._v4_signed_tx(path, payload, by_sha)
        elif payload.kind == "signed-escape":
            self._signed_escape(path, payload, by_sha, address)
        elif payload.kind == "v4-public-key" and body["key_source"] == "v4-mnemonic":
            # No Ethereum key exists for such an account: its payloads are origin-signed by the v4 key.
            point = coincurve.PublicKey(bytes.fromhex(body["public_key"])).format(compressed=False)
            own = address_from_public_key(point)
            if own != payload.address:
                raise VerificationError("a v4-mnemonic account's payload is not origin-signed by its own key")

    def _v4_signed_tx(self, path: str, payload: Payload, by_sha: dict[str, Payload]) -> None:
        """SignDoc -> public key -> address, and the transaction is the one its v4-tx-request asked for."""
        body = payload.body
        check_signed_tx(body)
        request = by_sha.get(body["request_sha256"])
        if request is None or request.kind != "v4-tx-request":
            raise VerificationError(
                f"its v4-tx-request (SHA-256 {body['request_sha256'][:16]}…) is not in the bundle"
            )
        asked = unsigned_from_fields(request.body["tx"])
        parsed = parse_tx(bytes.fromhex(body["tx_raw"]))
        if (parsed.raw.body_bytes, parsed.raw.auth_info_bytes) != (asked.body_bytes, asked.auth_info_bytes):
            raise VerificationError("the signed transaction is not the one its v4-tx-request asked for")
        if (asked.chain_id, asked.account_number) != (body["chain_id"], body["account_number"]):
            raise VerificationError("chain id or account number differs from its v4-tx-request")
        if payload.answers != request.id:
            raise VerificationError("it does not answer its v4-tx-request (id differs)")
        self.checks.ok(
            "transaction",
            path,
            f"v4 {body['chain_id']} {body['tx_hash']}: SIGN_MODE_DIRECT signature of {body['address']} over "
            f"the SignDoc its v4-tx-request {request.id} asked for",
        )

    def _signed_tx(self, path: str, payload: Payload, by_sha: dict[str, Payload], address: str) -> None:
        body = payload.body
        signed = decode_signed_transaction(bytes.fromhex(body["raw"][2:]))
        if signed.sender_address != address:
            raise VerificationError(f"the transaction recovers to {signed.sender_address}, not {address}")
        if "0x" + signed.tx_hash.hex() != body["tx_hash"]:
            raise VerificationError("tx_hash is not the hash of the raw transaction")
        if signed.transaction.chain_id != payload.network_id:
            raise VerificationError(f"the transaction is for chain {signed.transaction.chain_id}")
        request = by_sha.get(body["request_sha256"])
        if request is None or request.kind != "tx-request":
            raise VerificationError(
                f"its tx-request (SHA-256 {body['request_sha256'][:16]}…) is not in the bundle"
            )
        _same_transaction(signed, request.body["transaction"])
        if payload.answers != request.id or body["action"] != request.body["action"]:
            raise VerificationError("it does not answer its tx-request (id or action differs)")
        self.checks.ok(
            "transaction",
            path,
            f"{body['action']} {body['tx_hash']} recovers to {address} and is exactly the transaction its "
            f"tx-request {request.id} asked for",
        )

    def _signed_escape(self, path: str, payload: Payload, by_sha: dict[str, Payload], address: str) -> None:
        """Each transaction recovers to the key and is the one asked; the proof verifies again here, and the
        calldata is what the verified proof gives: the auditor needs neither machine to see what left."""
        body = payload.body
        request = by_sha.get(body["request_sha256"])
        if request is None or request.kind != "escape-request":
            raise VerificationError(
                f"its escape-request (SHA-256 {body['request_sha256'][:16]}…) is not in the bundle"
            )
        if payload.answers != request.id:
            raise VerificationError("it does not answer its escape-request (id differs)")
        steps = request.body["steps"]
        if [item["action"] for item in body["transactions"]] != [step["action"] for step in steps]:
            raise VerificationError("its transactions are not the ones its escape-request asked for")
        for item, step in zip(body["transactions"], steps, strict=True):
            signed = decode_signed_transaction(bytes.fromhex(item["raw"][2:]))
            if signed.sender_address != address:
                raise VerificationError(
                    f"{item['action']} recovers to {signed.sender_address}, not {address}"
                )
            if "0x" + signed.tx_hash.hex() != item["tx_hash"]:
                raise VerificationError(f"{item['action']}: tx_hash is not the hash of the raw transaction")
            _same_transaction(signed, step["transaction"])
        self.checks.ok(
            "transaction",
            path,
            f"{len(steps)} escape transactions ({', '.join(s['action'] for s in steps)}) recover to "
            f"{address} and are exactly those escape-request {request.id} asked for",
        )
        escape = request.body["escape"]
        fields = ("stark_key", "position_id", "n_assets", "merkle_proof", "shared_state")
        data = escape_data_from_json({name: escape[name] for name in fields})
        try:
            verified = verify_escape_data(data)
        except AirgapError as exc:
            self.checks.fail("escape-proof", path, exc.message)
            return
        rebuilt = {
            "verify-escape": VerifyEscapeCall(data.merkle_proof, data.n_assets, data.shared_state).encode(),
            "escape": EscapeCall(verified.stark_key, verified.position_id, verified.amount).encode(),
        }
        for step in steps:
            calldata = bytes.fromhex(step["transaction"]["data"][2:])
            expected = rebuilt.get(step["action"])
            if expected is not None and calldata != expected:
                self.checks.fail(
                    "escape-proof", path, f"the {step['action']} calldata is not the verified proof's"
                )
                return
            if step["action"] not in rebuilt:
                call = decode_escape_hatch_call(calldata)
                if getattr(call, "stark_key", None) != verified.stark_key:
                    self.checks.fail("escape-proof", path, f"{step['action']} is for another STARK key")
                    return
        self.checks.ok(
            "escape-proof",
            path,
            f"position {verified.position_id} of STARK key 0x{verified.stark_key:064x}: the proof verifies "
            f"(root 0x{verified.root:064x}), amount {verified.amount} base units, "
            f"fact 0x{verified.fact.hex()}",
        )

    def _stark_keys(self) -> None:
        """The STARK key of an account must be the same in its public-key and onboarding payloads."""
        published: dict[int, tuple[str, str, str]] = {}
        for path, p in sorted(self.result.payloads.items()):
            if p.kind == "public-key":
                published[p.body["account"]] = (
                    path,
                    p.body["stark_public_key"],
                    p.body["stark_public_key_y"],
                )
        for path, p in sorted(self.result.payloads.items()):
            if p.kind != "onboarding-request":
                continue
            try:
                sent = json.loads(p.body["body"])
                x, y = int(p.body["stark_public_key"], 16), int(p.body["stark_public_key_y"], 16)
                if int(sent["starkKey"], 16) != x or int(sent["starkKeyYCoordinate"], 16) != y:
                    raise VerificationError("the body sent is not for the STARK key the payload states")
                public = published.get(p.body["account"])
                if public is not None and (int(public[1], 16), int(public[2], 16)) != (x, y):
                    raise VerificationError(f"its STARK key is not the one {public[0]} publishes")
            except Exception as exc:  # noqa: BLE001
                self.checks.fail("cross-references", path, _message(exc))
                continue
            also = f" and with {published[p.body['account']][0]}" if p.body["account"] in published else ""
            self.checks.ok(
                "cross-references",
                path,
                f"the STARK key in the body sent agrees with the one the payload states{also}",
            )

    # ---- evidence log ----

    def _log(self, manifest: Manifest) -> None:
        ref = manifest.evidence_log
        data = self.files.get(ref.path)
        if data is None:
            return  # reported by bundle-layout
        try:
            entries = read_log_bytes(data, ref.path)
        except Exception as exc:  # noqa: BLE001
            self.checks.fail("evidence-log", ref.path, _message(exc))
            return
        self.result.log_entries = entries
        head = entries[-1].line_sha256 if entries else "0" * 64
        if len(entries) != ref.entries or head != ref.head_sha256:
            self.checks.fail(
                "evidence-log",
                ref.path,
                f"has {len(entries)} entries ending in {head[:16]}…; the manifest says {ref.entries} "
                f"ending in {ref.head_sha256[:16]}…",
            )
            return
        self._log_head(entries, ref.path)
        by_seq = {a.log_seq: a for a in manifest.artefacts if a.log_seq is not None}
        mine = 0
        for entry in entries:
            if entry.get("event") != "sign":
                continue
            if entry.get("address") != manifest.address or entry.get("network_id") != manifest.network_id:
                continue
            mine += 1
            art = by_seq.pop(entry.seq, None)
            problem = self._entry_mismatch(entry, art)
            if problem:
                self.checks.fail(
                    "evidence-log", art.path if art else ref.path, f"entry {entry.seq}: {problem}"
                )
            elif art is not None:
                self._signed_in_time(entry, art)
        for seq, art in sorted(by_seq.items(), key=lambda kv: kv[0] or 0):
            self.checks.fail(
                "evidence-log", art.path, f"names log entry {seq}, which records no such signature"
            )
        self._handoffs(entries, manifest, ref.path)
        if mine and not self.checks.failed("signed-in-time"):
            self.checks.ok(
                "signed-in-time",
                ref.path,
                "no signature was made after the request it answers had expired (by the cold clock)",
            )
        if not self.checks.failed("evidence-log"):
            self.checks.ok(
                "evidence-log",
                ref.path,
                f"hash chain of {len(entries)} entries intact; its {mine} signature(s) by {manifest.address} "
                "are all in the bundle",
            )

    def _handoffs(self, entries: list[LogEntry], manifest: Manifest, path: str) -> None:
        """Each sealed handoff of trading secrets the log records for this key: an auditor must see who was
        given keys that trade and withdraw. The log holds the recipient and what was sealed, never a secret;
        the sealed file itself is not in the bundle."""
        for entry in entries:
            if entry.get("event") != "handoff" or entry.get("network_id") != manifest.network_id:
                continue
            accounts = entry.get("accounts")
            listed = accounts if isinstance(accounts, list) else []
            addresses = {a.get("address") for a in listed if isinstance(a, dict)} | {entry.get("address")}
            if manifest.address not in addresses:
                continue
            shown = ", ".join(
                f"{a.get('account')} ({a.get('address')})" for a in listed if isinstance(a, dict)
            )
            self.checks.ok(
                "handoffs",
                path,
                f"entry {entry.seq}: sealed {entry.get('secrets')} of account(s) {shown or '?'} to "
                f"{entry.get('recipient_type')} recipient {entry.get('recipient')} (fingerprint "
                f"{entry.get('recipient_fingerprint')}) in {entry.get('kind')} {entry.get('fingerprint')} "
                f"({entry.get('file')}), at {entry.get('time')} by the cold clock; "
                f"{entry.get('confirmation')}",
            )

    def _signed_in_time(self, entry: LogEntry, art: Artefact) -> None:
        """A signature made after what it answers had expired: the cold side refuses to make one, so its
        presence means an old tool, a clock set back after the fact, or a forged log."""
        payload = self.result.payloads.get(art.path)
        signed_at = entry.get("time")
        if payload is None or not isinstance(signed_at, str):
            return
        try:
            moment = parse_iso_ms(signed_at)
        except AirgapError:
            return  # the log's own check reports an unreadable time
        # Requests the relay made carry an expiry the cold side checks with the same clock its log uses.
        # (A ladder's rungs may follow a relay-supplied clock within the bound it allows, so they are not
        # compared with the cold clock here.)
        ends: list[tuple[str, str]] = []
        request_sha = payload.body.get("request_sha256")
        request = self.by_sha.get(request_sha) if isinstance(request_sha, str) else None
        if request is not None and request.expires is not None:
            ends.append((f"its {request.kind} {request.id}", request.expires))
        for what, end in ends:
            if moment > parse_iso_ms(end):
                self.checks.fail(
                    "signed-in-time",
                    art.path,
                    f"entry {entry.seq}: signed at {signed_at}, after {what} ended at {end}",
                )

    def _log_head(self, entries: list[LogEntry], path: str) -> None:
        """A head on the operator's paper record that the bundle's log lacks: the log was rewritten or cut."""
        if self.log_head is None:
            return
        found = next((e for e in entries if e.line_sha256 == self.log_head), None)
        if found is None:
            self.checks.fail(
                "log-head",
                path,
                f"the log has no line with SHA-256 {self.log_head[:16]}…: it was cut or rewritten",
            )
        else:
            self.checks.ok(
                "log-head", path, f"line {found.seq} is the head {self.log_head[:16]}… written down"
            )

    def _entry_mismatch(self, entry: LogEntry, art: Artefact | None) -> str | None:
        if art is None:
            return (
                f"records signing {entry.get('kind')} {entry.get('file')} "
                f"(SHA-256 {str(entry.get('payload_sha256'))[:16]}…), which is not in the bundle"
            )
        expected = {
            "payload_sha256": art.sha256,
            "payload_id": art.payload_id,
            "kind": art.kind,
            "fingerprint": art.fingerprint,
        }
        wrong = [name for name, value in expected.items() if entry.get(name) != value]
        if wrong:
            return f"its {', '.join(wrong)} differ from {art.path}"
        payload = self.result.payloads.get(art.path)
        if payload is None:
            return None
        digests = self.digests.get(art.path) or _eip712_digests(payload)
        if digests is not None and entry.get("eip712_digests") != digests:
            return f"its EIP-712 digests are not those of {art.path}"
        if payload.kind == "v4-signed-tx":
            for name in ("tx_hash", "request_sha256", "sign_doc_sha256"):
                if entry.get(name) != payload.body[name]:
                    return f"its {name} is not {art.path}'s"
        if payload.kind == "signed-escape":
            hashes = [item["tx_hash"] for item in payload.body["transactions"]]
            if (
                entry.get("tx_hashes") != hashes
                or entry.get("request_sha256") != payload.body["request_sha256"]
            ):
                return f"its tx_hashes or request_sha256 are not {art.path}'s"
        if payload.kind == "signed-tx":
            if entry.get("tx_hash") != payload.body["tx_hash"]:
                return f"its tx_hash is not {art.path}'s"
            if entry.get("request_sha256") != payload.body["request_sha256"]:
                return f"its request_sha256 is not {art.path}'s"
        return None

    # ---- relay ----

    def _relay(self, manifest: Manifest | None) -> None:
        receipts_bytes = self.files.get(RECEIPTS)
        sig_bytes = self.files.get(RECEIPTS_SIG)
        if receipts_bytes is None or sig_bytes is None:
            return  # reported by bundle-layout
        try:
            parsed = verify_receipts_signature(receipts_bytes, sig_bytes, self.relay_key)
        except Exception as exc:  # noqa: BLE001
            self.checks.fail("relay-signature", RECEIPTS_SIG, f"{_message(exc)} ({RECEIPTS})")
        else:
            key = parsed.public_key.hex()
            self.result.relay_key = key
            self.result.relay_key_pinned = self.relay_key is not None
            pin = "the pinned relay key" if self.relay_key is not None else f"the key it states; {NOT_PINNED}"
            self.checks.ok(
                "relay-signature",
                RECEIPTS_SIG,
                f"Ed25519 signature of {RECEIPTS} verifies under {pin} ({key})",
            )
        try:
            receipts = parse_receipts(receipts_bytes)
        except Exception as exc:  # noqa: BLE001
            self.checks.fail("relay-receipts", RECEIPTS, _message(exc))
            return
        self.result.receipts = receipts
        if manifest is None:
            return
        problems: list[str] = []
        if receipts.manifest_sha256 != self.result.manifest_sha256:
            problems.append("they name another manifest (manifest_sha256 differs from manifest.json's)")
        if self.result.relay_key and receipts.relay_public_key != self.result.relay_key:
            problems.append("relay_public_key is not the key that signed them")
        for problem in problems:
            self.checks.fail("relay-receipts", RECEIPTS, problem)
        by_sha = {a.sha256: a for a in manifest.artefacts if a.is_payload}
        for i, sub in enumerate(receipts.submissions):
            try:
                self._submission(sub, by_sha)
            except Exception as exc:  # noqa: BLE001
                self.checks.fail("relay-receipts", RECEIPTS, f"submission {i}: {_message(exc)}")
        for i, tx in enumerate(receipts.transactions):
            try:
                self._transaction_receipt(tx, by_sha)
            except Exception as exc:  # noqa: BLE001
                self.checks.fail("relay-receipts", RECEIPTS, f"transaction {i}: {_message(exc)}")
        if not self.checks.failed("relay-receipts"):
            self.checks.ok(
                "relay-receipts",
                RECEIPTS,
                f"{len(receipts.submissions)} submission(s) and {len(receipts.transactions)} transaction(s), "
                "each for a payload of this bundle, under this manifest's digest",
            )

    def _payload_for(self, sha: str, by_sha: dict[str, Artefact]) -> tuple[Artefact, Payload]:
        art = by_sha.get(sha)
        payload = self.result.payloads.get(art.path) if art else None
        if art is None or payload is None:
            raise VerificationError(f"names payload SHA-256 {sha[:16]}…, which is not in this bundle")
        return art, payload

    def _submission(self, sub: dict[str, Any], by_sha: dict[str, Artefact]) -> None:
        if sub["manifest_sha256"] != self.result.manifest_sha256:
            raise VerificationError("names another manifest")
        if sub["payload_sha256"] not in by_sha:
            # The relay lists every submission for this address and network: one without its cold
            # artefact is a signature the bundle omits.
            raise VerificationError(
                f"the relay submitted {sub['kind']} {sub['payload_id']} (journal entry "
                f"{sub['journal_entry']}, {sub['state']}), which is not in this bundle: "
                "the bundle omits a signature"
            )
        art, payload = self._payload_for(sub["payload_sha256"], by_sha)
        if (sub["payload_id"], sub["kind"], sub["network_id"]) != (
            payload.id,
            payload.kind,
            payload.network_id,
        ):
            raise VerificationError(f"its payload id, kind or network is not {art.path}'s")
        if payload.address is None or to_checksum_address(sub["address"]) != payload.address:
            raise VerificationError(f"its address is not {art.path}'s")
        body = payload.body
        rungs = {(r["timestamp"], r["signature"]) for r in body.get("rungs", [])}
        for exchange in sub["exchanges"]:
            if exchange["purpose"] != "submit":
                continue
            if (exchange["method"], exchange["path"]) != (body["method"], body["request_path"]):
                raise VerificationError(
                    f"sent {exchange['method']} {exchange['path'][:60]}, but {art.path} signs "
                    f"{body['method']} {body['request_path']}"
                )
            if (exchange["request_body"] or "") != body["body"]:
                raise VerificationError(f"the request body sent is not the one {art.path} states")
            headers = {k.upper(): v for k, v in exchange["request_headers"].items()}
            sent_address = headers.get("DYDX-ETHEREUM-ADDRESS")
            if sent_address is not None and to_checksum_address(sent_address) != payload.address:
                raise VerificationError("the request was sent for another Ethereum address")
            if payload.kind == "eth-private-request":
                pair = (headers.get("DYDX-TIMESTAMP"), headers.get("DYDX-SIGNATURE"))
                if pair not in rungs:
                    raise VerificationError(f"the signature sent is not one of the rungs of {art.path}")

    def _transaction_receipt(self, tx: dict[str, Any], by_sha: dict[str, Artefact]) -> None:
        if tx["manifest_sha256"] != self.result.manifest_sha256:
            raise VerificationError("names another manifest")
        if tx["payload_sha256"] not in by_sha:
            raise VerificationError(
                f"the relay broadcast transaction {str(tx['tx_hash'])[:20]}… ({tx['state']}), which is not "
                "in this bundle: the bundle omits a signature"
            )
        art, payload = self._payload_for(tx["payload_sha256"], by_sha)
        if payload.kind == "signed-escape":
            items = [item for item in payload.body["transactions"] if item["tx_hash"] == tx["tx_hash"]]
            if not items:
                raise VerificationError(f"its transaction hash is not one of {art.path}'s")
            raw = bytes.fromhex(items[0]["raw"][2:])
        elif payload.kind not in ("signed-tx", "v4-signed-tx") or payload.body["tx_hash"] != tx["tx_hash"]:
            raise VerificationError(f"its transaction hash is not {art.path}'s")
        else:
            # A v3 (Ethereum) raw transaction is 0x-hex; a v4 TxRaw is plain hex.
            raw = bytes.fromhex(
                payload.body["raw"][2:] if payload.kind == "signed-tx" else payload.body["tx_raw"]
            )
        if hashlib.sha256(raw).hexdigest() != tx["raw_sha256"]:
            raise VerificationError(f"the raw transaction broadcast is not {art.path}'s")
        if tx["request_sha256"] is not None and tx["request_sha256"] != payload.body["request_sha256"]:
            raise VerificationError(f"it answers another tx-request than {art.path}")

    # ---- secrets ----

    def _secrets(self, manifest: Manifest | None) -> None:
        if self.result.receipts is not None:
            for sub in self.result.receipts.submissions:
                try:
                    self.addresses.add(to_checksum_address(sub["address"]))
                except AirgapError:
                    continue
        allowed = frozenset(
            (path, "body.signature")
            for path, p in self.result.payloads.items()
            if p.kind == "onboarding-request"
        )
        scanner = SecretScanner(frozenset(self.addresses), frozenset(self.accounted), allowed)
        clean = 0
        paths = sorted(self.files)
        # Each file is scanned on its own: large bundles on every core.
        advance = self.progress.stage("searching for secrets", len(paths))
        found = _map_on_cores(lambda path: scanner.scan_file(path, self.files[path]), paths, advance)
        for path, findings in zip(paths, found, strict=True):
            for f in findings:
                self.checks.fail("no-secret", path, f"{f.where or 'contents'}: {f.what}")
            clean += not findings
        if clean == len(self.files):
            self.checks.ok(
                "no-secret",
                "bundle",
                f"{clean} files: no derivation signature, no secret-named key material, no mnemonic",
            )


@dataclass(frozen=True)
class _Prepared:
    """One payload artefact decoded and matched against the manifest, and its request signatures checked:
    what :meth:`_Verifier._payloads` needs from a worker."""

    payload: Payload | None
    error: str | None  # why it did not decode or match, when payload is None
    sha256: str  # of the file
    #: ("ok" or "fail", check message, verified signature cores, EIP-712 digests) for an onboarding or
    #: eth-private request; None for every other kind (checked in the parent: they cross-reference)
    signatures: tuple[str, str, list[bytes], list[str] | None] | None = None


def _prepare(art: Artefact, data: bytes, manifest: Manifest) -> _Prepared:
    digest = hashlib.sha256(data).digest()
    try:
        payload = decode_payload(data)
        # The decoder accepts only canonical bytes, so these are the payload's own bytes: its fingerprint
        # is theirs, without encoding it again.
        _Verifier._payload_matches(art, payload, manifest, fingerprint_of(digest))
    except Exception as exc:  # noqa: BLE001
        return _Prepared(None, _message(exc), digest.hex())
    signatures = None
    if payload.kind in ("onboarding-request", "eth-private-request"):
        signatures = _request_signatures(payload, manifest.address)
    return _Prepared(payload, None, digest.hex(), signatures)


def _request_signatures(payload: Payload, address: str) -> tuple[str, str, list[bytes], list[str] | None]:
    """An onboarding or eth-private request's dYdX signatures, each recovering to ``address``:
    ("ok", message, signature cores, digests) or ("fail", why, [], None)."""
    body = payload.body
    chain = payload.network_id
    cores: list[bytes] = []  # verified so far: kept even when a later rung fails, as they are genuine
    try:
        if payload.kind == "onboarding-request":
            verify_onboarding_signature(chain, body["signature"], address)
            recovers = f"the 'dYdX Onboarding' signature recovers to {address} on chain {chain}"
            return "ok", f"POST /v3/onboarding: {recovers}", [], None
        digests = []
        for i, rung in enumerate(body["rungs"]):
            try:
                sig, digest = verify_eth_private_rung(
                    chain,
                    body["method"],
                    body["request_path"],
                    body["body"],
                    rung["timestamp"],
                    rung["signature"],
                    address,
                )
            except AirgapError as exc:
                raise VerificationError(f"rung {i} ({rung['timestamp']}): {exc.message}") from None
            cores.append(typed_signature_core(sig))
            digests.append(digest.hex())
        return (
            "ok",
            f"{body['method']} {body['request_path']}: all {len(body['rungs'])} rungs recover to "
            f"{address} on chain {chain}",
            cores,
            digests,
        )
    except Exception as exc:  # noqa: BLE001
        return "fail", _message(exc), cores, None


def _prepare_all(
    arts: list[Artefact], files: dict[str, bytes], manifest: Manifest, advance: Advance
) -> list[_Prepared]:
    return _map_on_cores(lambda art: _prepare(art, files[art.path], manifest), arts, advance)


#: Below this many items a bundle is checked in one process: forking and pickling would cost more.
PARALLEL_MIN_ITEMS = 256
#: Worker processes for large bundles (None: one per CPU, as shared/parallel.py chooses).
WORKERS: int | None = None


def _map_on_cores(function: Callable[[Any], _T], items: Sequence[Any], advance: Advance) -> list[_T]:
    """``[function(item) for item in items]``, on every core for long lists. Everything here is public (a
    bundle holds no secret, and the no-secret check says so), so shared/parallel.py's map_public fits."""
    return map_public(function, items, advance, PARALLEL_MIN_ITEMS, WORKERS)


def _eip712_digests(payload: Payload) -> list[str] | None:
    body = payload.body
    if payload.kind == "onboarding-request":
        return [onboarding_action_digest(payload.network_id, ONBOARDING_ACTION).hex()]
    if payload.kind == "eth-private-request":
        return [
            eth_private_action_digest(
                payload.network_id, body["method"], body["request_path"], body["body"], r["timestamp"]
            ).hex()
            for r in body["rungs"]
        ]
    return None


def _same_transaction(signed: SignedEip1559Transaction, asked: dict[str, Any]) -> None:
    tx = signed.transaction
    fields = {
        "chain_id": tx.chain_id,
        "nonce": tx.nonce,
        "max_priority_fee_per_gas": tx.max_priority_fee_per_gas,
        "max_fee_per_gas": tx.max_fee_per_gas,
        "gas_limit": tx.gas_limit,
        "to": tx.to_address,
        "value": tx.value,
        "data": "0x" + tx.data.hex(),
    }
    wrong = [
        name
        for name, value in fields.items()
        if (value.lower() if isinstance(value, str) else value)
        != (asked[name].lower() if isinstance(asked[name], str) else asked[name])
    ]
    if tx.access_list:
        wrong.append("access_list (the request has none)")
    if wrong:
        raise VerificationError(f"the signed transaction differs from its tx-request in {', '.join(wrong)}")


def typed_signature_core(signature: TypedSignature) -> bytes:
    """r ‖ s ‖ recovery id: the form :mod:`.secret_scan` compares signatures in."""
    return signature.raw65()[:64] + bytes([signature.recovery_id])
