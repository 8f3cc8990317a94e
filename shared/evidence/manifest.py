"""``manifest.json`` and ``manifest.sig``: what the bundle holds, vouched for by the cold key.

The manifest is canonical JSON (one spelling, one digest). It names the network, the signer's address, the
policy in force as the cold side recorded it, the evidence log (path, entry count, digest of its last line)
and every artefact with its SHA-256 and size — plus, for payloads, the id, fingerprint and the log entry
that records its signature. ``manifest.sig`` holds the exact EIP-191 text the cold key signed (its SHA-256
inside, see shared/evidence/message.py) and the 66-byte typed signature, so an auditor can also check it
with any Ethereum wallet's "verify message".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dydx_airgap.shared.canonical_json import canonical_dumps, canonical_loads
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.ethereum.address import to_checksum_address
from dydx_airgap.shared.ethereum.typed_signature import SignatureType, TypedSignature
from dydx_airgap.shared.evidence.layout import (
    BUNDLE_FORMAT,
    COLD_DIR,
    MANIFEST_SIG_FORMAT,
    MAX_MANIFEST_BYTES,
    MAX_SIG_FILE_BYTES,
    check_bundle_path,
)
from dydx_airgap.shared.timestamps import parse_iso_ms
from dydx_airgap.shared.transport.kinds import known_kinds

EVIDENCE_LOG_KIND = "evidence-log"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f]{32}")
_FINGERPRINT = re.compile(r"[0-9a-f]{4}-[0-9a-f]{4}")
_VERSION = re.compile(r"[0-9A-Za-z.+_-]{1,40}")


def artefact_kinds() -> tuple[str, ...]:
    return (*known_kinds(), EVIDENCE_LOG_KIND)


@dataclass(frozen=True)
class Artefact:
    path: str
    kind: str
    sha256: str
    size: int
    payload_id: str | None = None
    fingerprint: str | None = None
    log_seq: int | None = None  # the evidence-log entry that records signing it (None: not signed here)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "payload_id": self.payload_id,
            "fingerprint": self.fingerprint,
            "log_seq": self.log_seq,
        }

    @property
    def is_payload(self) -> bool:
        return self.kind != EVIDENCE_LOG_KIND


@dataclass(frozen=True)
class LogReference:
    path: str
    entries: int
    head_sha256: str  # SHA-256 of the last line: a truncated log cannot pass as complete

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "entries": self.entries, "head_sha256": self.head_sha256}


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    network_id: int
    address: str
    created: str
    policy: dict[str, Any]
    evidence_log: LogReference
    artefacts: tuple[Artefact, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "tool_version": self.tool_version,
            "network_id": self.network_id,
            "address": self.address,
            "created": self.created,
            "policy": self.policy,
            "evidence_log": self.evidence_log.to_json(),
            "artefacts": [a.to_json() for a in self.artefacts],
        }

    def to_bytes(self) -> bytes:
        return canonical_dumps(self.to_json())

    def artefact(self, path: str) -> Artefact | None:
        return next((a for a in self.artefacts if a.path == path), None)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise FormatError(f"manifest: {message}")


def _exact_fields(value: Any, names: set[str], what: str) -> dict[str, Any]:
    _require(isinstance(value, dict), f"{what} must be an object")
    assert isinstance(value, dict)
    _require(set(value) == names, f"{what} must have exactly the fields {', '.join(sorted(names))}")
    return value


def _int(value: Any, low: int, high: int, what: str) -> int:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        f"{what} must be an integer from {low} to {high}",
    )
    assert isinstance(value, int)
    return value


def _text(value: Any, pattern: re.Pattern[str], what: str) -> str:
    _require(isinstance(value, str) and bool(pattern.fullmatch(value)), f"{what} has the wrong format")
    assert isinstance(value, str)
    return value


def _optional(value: Any, pattern: re.Pattern[str], what: str) -> str | None:
    return None if value is None else _text(value, pattern, what)


def _artefact(value: Any, index: int) -> Artefact:
    where = f"artefacts[{index}]"
    fields = _exact_fields(
        value, {"path", "kind", "sha256", "size", "payload_id", "fingerprint", "log_seq"}, where
    )
    try:
        path = check_bundle_path(fields["path"])
    except FormatError as exc:
        raise FormatError(f"manifest: {where}: {exc.message}") from None
    _require(path.startswith(COLD_DIR + "/"), f"{where}.path must be under {COLD_DIR}/")
    kind = fields["kind"]
    _require(kind in artefact_kinds(), f"{where}.kind {str(kind)[:40]!r} is not a known artefact kind")
    payload = kind != EVIDENCE_LOG_KIND
    payload_id = _optional(fields["payload_id"], _ID, f"{where}.payload_id")
    fingerprint = _optional(fields["fingerprint"], _FINGERPRINT, f"{where}.fingerprint")
    _require(
        (payload_id is not None and fingerprint is not None) == payload,
        f"{where}: payloads (and only payloads) carry an id and a fingerprint",
    )
    log_seq = fields["log_seq"]
    if log_seq is not None:
        _int(log_seq, 1, 2**40, f"{where}.log_seq")
    return Artefact(
        path=path,
        kind=kind,
        sha256=_text(fields["sha256"], _SHA256, f"{where}.sha256"),
        size=_int(fields["size"], 0, 2**40, f"{where}.size"),
        payload_id=payload_id,
        fingerprint=fingerprint,
        log_seq=log_seq,
    )


def _log_path(value: Any) -> str:
    try:
        return check_bundle_path(value)
    except FormatError as exc:
        raise FormatError(f"manifest: evidence_log.path: {exc.message}") from None


def parse_manifest(data: bytes) -> Manifest:
    """Strictly decode ``manifest.json`` (canonical JSON, exact fields, known network and kinds)."""
    value = canonical_loads(data, max_bytes=MAX_MANIFEST_BYTES)
    top = _exact_fields(
        value,
        {"format", "tool_version", "network_id", "address", "created", "policy", "evidence_log", "artefacts"},
        "the manifest",
    )
    _require(top["format"] == BUNDLE_FORMAT, f"format {str(top['format'])[:40]!r} is not {BUNDLE_FORMAT}")
    network_id = top["network_id"]
    _require(
        isinstance(network_id, int) and not isinstance(network_id, bool) and network_id in NETWORKS,
        "names an unknown network",
    )
    address = top["address"]
    try:
        _require(isinstance(address, str) and to_checksum_address(address) == address, "address not EIP-55")
        parse_iso_ms(top["created"])
    except InputError as exc:
        raise FormatError(f"manifest: {exc.message}") from None
    _require(isinstance(top["policy"], dict), "policy must be an object")
    log = _exact_fields(top["evidence_log"], {"path", "entries", "head_sha256"}, "evidence_log")
    log_ref = LogReference(
        path=_log_path(log["path"]),
        entries=_int(log["entries"], 0, 2**40, "evidence_log.entries"),
        head_sha256=_text(log["head_sha256"], _SHA256, "evidence_log.head_sha256"),
    )
    items = top["artefacts"]
    _require(isinstance(items, list) and len(items) <= 100_000, "artefacts must be a list")
    artefacts = tuple(_artefact(item, i) for i, item in enumerate(items))
    paths = [a.path for a in artefacts]
    _require(paths == sorted(set(paths)), "artefacts must be sorted by path, each path once")
    logs = [a for a in artefacts if a.kind == EVIDENCE_LOG_KIND]
    _require(len(logs) == 1 and logs[0].path == log_ref.path, "exactly one artefact must be the evidence log")
    return Manifest(
        tool_version=_text(top["tool_version"], _VERSION, "tool_version"),
        network_id=network_id,
        address=address,
        created=top["created"],
        policy=top["policy"],
        evidence_log=log_ref,
        artefacts=artefacts,
    )


# --- manifest.sig ------------------------------------------------------------------------------------------


def encode_manifest_signature(message: str, signature: TypedSignature) -> bytes:
    return canonical_dumps(
        {"format": MANIFEST_SIG_FORMAT, "message": message, "signature": signature.to_hex()}
    )


def parse_manifest_signature(data: bytes) -> tuple[str, TypedSignature]:
    """(signed text, typed signature); refuses any other spelling, so no bit of the file is free."""
    value = canonical_loads(data, max_bytes=MAX_SIG_FILE_BYTES)
    if not isinstance(value, dict) or set(value) != {"format", "message", "signature"}:
        raise FormatError("manifest.sig must have exactly the fields format, message, signature")
    if value["format"] != MANIFEST_SIG_FORMAT:
        raise FormatError(f"manifest.sig format is not {MANIFEST_SIG_FORMAT}")
    message, text = value["message"], value["signature"]
    if not isinstance(message, str) or not isinstance(text, str):
        raise FormatError("manifest.sig message and signature must be strings")
    signature = TypedSignature.from_hex(text)
    if signature.to_hex() != text:
        raise FormatError("manifest.sig signature must be lower-case hex")
    if signature.sig_type is not SignatureType.PERSONAL:
        raise FormatError("manifest.sig must be an EIP-191 personal_sign signature (type byte 03)")
    return message, signature
