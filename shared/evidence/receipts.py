"""``relay/receipts.json`` and ``relay/receipts.sig``: the relay's account of what it did with the payloads.

One receipt per submission found in the relay's API journal (request method and path, every exchange with
the API — status, timing, the answer with API secrets redacted) and one per broadcast transaction found in
its on-chain journal. Each names the payload it concerns by SHA-256 and the cold manifest by its digest,
so relay evidence cannot be moved to another bundle. The relay signs the SHA-256 of the canonical
receipts.json with its Ed25519 key, behind a fixed text prefix (domain separation: the key signs nothing
else), and the auditor pins that key with ``--relay-key``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dydx_airgap.shared.canonical_json import canonical_dumps, canonical_loads
from dydx_airgap.shared.errors import FormatError, SignatureError, VerificationError
from dydx_airgap.shared.evidence.layout import (
    MAX_RECEIPTS_BYTES,
    MAX_SIG_FILE_BYTES,
    RECEIPTS_FORMAT,
    RECEIPTS_SIG_FORMAT,
)

SIGNING_PREFIX = "dydx-airgap relay receipts v1\nsha256: "
ALGORITHM = "ed25519"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{128}")

Check = Callable[[str, Any], None]


def receipts_signing_message(receipts_sha256: bytes) -> bytes:
    """The exact bytes the relay's Ed25519 key signs for a receipts file with this SHA-256."""
    if len(receipts_sha256) != 32:
        raise FormatError("a receipts digest is 32 bytes")
    return (SIGNING_PREFIX + receipts_sha256.hex()).encode("ascii")


def parse_public_key(text: str) -> bytes:
    value = text.strip().lower()
    value = value[2:] if value.startswith("0x") else value
    if re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", value):
        raise FormatError(
            "that is the key's fingerprint, for reading aloud: pin the whole public key (64 hex digits), "
            "as `dydx-relay init-evidence-key` and `evidence add-receipts` print it"
        )
    if not _HEX32.fullmatch(value):
        raise FormatError("an Ed25519 public key is 64 hex digits (32 bytes)")
    return bytes.fromhex(value)


# --- schema ----------------------------------------------------------------------------------------------


def _fail(message: str) -> None:
    raise FormatError(f"receipts: {message}")


def _is(kind: type | tuple[type, ...], nullable: bool = False) -> Check:
    def check(where: str, value: Any) -> None:
        if value is None and nullable:
            return
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            _fail(f"{where} has the wrong type")
        if not isinstance(value, kind):
            _fail(f"{where} has the wrong type")

    return check


def _str_map(where: str, value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        _fail(f"{where} must map names to strings")


def _fields(value: Any, spec: dict[str, Check], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    assert isinstance(value, dict)
    if set(value) != set(spec):
        _fail(f"{where} must have exactly the fields {', '.join(sorted(spec))}")
    for name, check in spec.items():
        check(f"{where}.{name}", value[name])
    return value


def _list_of(spec: dict[str, Check]) -> Check:
    def check(where: str, value: Any) -> None:
        if not isinstance(value, list):
            _fail(f"{where} must be a list")
        for i, item in enumerate(value):
            _fields(item, spec, f"{where}[{i}]")

    return check


def _hex32(where: str, value: Any) -> None:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        _fail(f"{where} must be 64 lower-case hex digits")


EXCHANGE_FIELDS: dict[str, Check] = {
    "purpose": _is(str),
    "attempt": _is(int),
    "method": _is(str),
    "path": _is(str),
    "request_headers": _str_map,
    "request_body": _is(str, nullable=True),
    "started_at": _is(str),
    "finished_at": _is(str),
    "status": _is(int, nullable=True),
    "response_body": _is(str, nullable=True),
    "failure": _is(str, nullable=True),
    "may_have_taken_effect": _is(bool),
}
SUBMISSION_FIELDS: dict[str, Check] = {
    "manifest_sha256": _hex32,
    "journal_entry": _is(int),
    "payload_sha256": _hex32,
    "payload_id": _is(str),
    "kind": _is(str),
    "action": _is(str),
    "network_id": _is(int),
    "address": _is(str),
    "api_origin": _is(str),
    "state": _is(str),
    "note": _is(str, nullable=True),
    "result": _is(dict),
    "created_at": _is(str),
    "updated_at": _is(str),
    "exchanges": _list_of(EXCHANGE_FIELDS),
}
EVENT_FIELDS: dict[str, Check] = {"event": _is(str), "detail": _is(str), "at": _is(str)}
TRANSACTION_FIELDS: dict[str, Check] = {
    "manifest_sha256": _hex32,
    "tx_hash": _is(str),
    "payload_sha256": _hex32,
    "request_id": _is(str),
    "request_sha256": _is(str, nullable=True),
    "raw_sha256": _hex32,
    "state": _is(str),
    "note": _is(str, nullable=True),
    "block_number": _is(int, nullable=True),
    "gas_used": _is(int, nullable=True),
    "rpc_origin": _is(str),
    "created_at": _is(str),
    "updated_at": _is(str),
    "events": _list_of(EVENT_FIELDS),
}
TOP_FIELDS: dict[str, Check] = {
    "format": _is(str),
    "tool_version": _is(str),
    "created": _is(str),
    "manifest_sha256": _hex32,
    "relay_public_key": _hex32,
    "submissions": _list_of(SUBMISSION_FIELDS),
    "transactions": _list_of(TRANSACTION_FIELDS),
}


@dataclass(frozen=True)
class Receipts:
    created: str
    tool_version: str
    manifest_sha256: str
    relay_public_key: str
    submissions: list[dict[str, Any]]
    transactions: list[dict[str, Any]]


def build_receipts(
    *,
    tool_version: str,
    created: str,
    manifest_sha256: str,
    relay_public_key: str,
    submissions: list[dict[str, Any]],
    transactions: list[dict[str, Any]],
) -> bytes:
    """Canonical receipts.json bytes; validated by the same parser the auditor runs."""
    data = canonical_dumps(
        {
            "format": RECEIPTS_FORMAT,
            "tool_version": tool_version,
            "created": created,
            "manifest_sha256": manifest_sha256,
            "relay_public_key": relay_public_key,
            "submissions": submissions,
            "transactions": transactions,
        }
    )
    parse_receipts(data)
    return data


def parse_receipts(data: bytes) -> Receipts:
    value = _fields(canonical_loads(data, max_bytes=MAX_RECEIPTS_BYTES), TOP_FIELDS, "receipts")
    if value["format"] != RECEIPTS_FORMAT:
        _fail(f"format {str(value['format'])[:40]!r} is not {RECEIPTS_FORMAT}")
    return Receipts(
        created=value["created"],
        tool_version=value["tool_version"],
        manifest_sha256=value["manifest_sha256"],
        relay_public_key=value["relay_public_key"],
        submissions=value["submissions"],
        transactions=value["transactions"],
    )


# --- receipts.sig ----------------------------------------------------------------------------------------


def encode_receipts_signature(public_key: bytes, receipts_sha256: bytes, signature: bytes) -> bytes:
    return canonical_dumps(
        {
            "format": RECEIPTS_SIG_FORMAT,
            "algorithm": ALGORITHM,
            "public_key": public_key.hex(),
            "receipts_sha256": receipts_sha256.hex(),
            "signature": signature.hex(),
        }
    )


@dataclass(frozen=True)
class ReceiptsSignature:
    public_key: bytes
    receipts_sha256: bytes
    signature: bytes


def parse_receipts_signature(data: bytes) -> ReceiptsSignature:
    value = canonical_loads(data, max_bytes=MAX_SIG_FILE_BYTES)
    names = {"format", "algorithm", "public_key", "receipts_sha256", "signature"}
    if not isinstance(value, dict) or set(value) != names:
        raise FormatError(f"receipts.sig must have exactly the fields {', '.join(sorted(names))}")
    if value["format"] != RECEIPTS_SIG_FORMAT or value["algorithm"] != ALGORITHM:
        raise FormatError(f"receipts.sig must be {RECEIPTS_SIG_FORMAT} with algorithm {ALGORITHM}")
    for name, pattern in (("public_key", _HEX32), ("receipts_sha256", _HEX32), ("signature", _HEX64)):
        if not isinstance(value[name], str) or not pattern.fullmatch(value[name]):
            raise FormatError(f"receipts.sig {name} must be lower-case hex of the right length")
    return ReceiptsSignature(
        public_key=bytes.fromhex(value["public_key"]),
        receipts_sha256=bytes.fromhex(value["receipts_sha256"]),
        signature=bytes.fromhex(value["signature"]),
    )


def verify_receipts_signature(receipts: bytes, sig_file: bytes, pinned: bytes | None) -> ReceiptsSignature:
    """Check receipts.sig over receipts.json; with ``pinned``, the key must be that one."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parsed = parse_receipts_signature(sig_file)
    digest = hashlib.sha256(receipts).digest()
    if parsed.receipts_sha256 != digest:
        raise VerificationError("receipts.sig names another receipts.json (SHA-256 differs)")
    if pinned is not None and parsed.public_key != pinned:
        raise SignatureError(
            f"receipts are signed by relay key {parsed.public_key.hex()[:16]}…, not the pinned "
            f"{pinned.hex()[:16]}…"
        )
    try:
        Ed25519PublicKey.from_public_bytes(parsed.public_key).verify(
            parsed.signature, receipts_signing_message(digest)
        )
    except (InvalidSignature, ValueError):
        raise SignatureError("the relay's Ed25519 signature over receipts.json does not verify") from None
    return parsed
