"""Two cold machines, same inputs: their outputs must agree byte for byte, except what is meant to differ.

Signing is deterministic (RFC 6979) and so are the derivations, so a second cold machine given the same key,
network, accounts and requests must produce the same public keys and the same signatures (kit
spec/security.md, T6 and check 12). What legitimately differs is listed in :data:`IGNORED` and nothing
else is skipped:

* every payload's ``id`` (random), ``created`` and ``expires`` (the machine's clock), its ``origin``
  signature (the cold key's signature over the content, id and times included) and its ``seal`` (a SHA-256
  over the whole envelope): both follow those three fields;
* in a signature ladder, each rung's ``timestamp`` and the ``valid_from`` / ``valid_until`` derived from
  them. A rung whose timestamps agree must carry the identical signature; rungs whose timestamps differ sign
  different messages, so their signatures are each verified against the address instead of compared;
* in the evidence log, ``time``, ``prev`` (the chain hash covers the times), and the fields computed from a
  payload's random id or clock: ``payload_id``, ``payload_sha256``, ``fingerprint``, and the EIP-712 digests
  of ladders (they hash the rung timestamps);
* vault files (``*.dydx-vault``): encrypted under a random salt and nonce, never comparable.

Only public artefacts are compared. In a directory, a file only its owner may read (a vault, a passphrase,
a mnemonic, a keystore, a seed-carrying payload) and any ``*.dydx-vault`` file is never opened: it is listed
as skipped. Files that are neither payloads nor logs are compared by content but their digests are never
printed (a digest of a secret that slipped through would be a dictionary-attack target).

Either side may be a directory of cold outputs or an evidence bundle (then its ``cold/`` files are compared).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydx_airgap.shared.canonical_json import canonical_loads
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature
from dydx_airgap.shared.errors import AirgapError, InputError
from dydx_airgap.shared.evidence.files import load_bundle
from dydx_airgap.shared.evidence.layout import COLD_DIR, MANIFEST, MAX_FILE_BYTES
from dydx_airgap.shared.evidence.log_chain import LOG_FORMAT
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.transport.payload import Payload, decode_payload
from dydx_airgap.shared.transport.secrecy import bytes_carry_secret_seed

IGNORED = (
    "payload id, created, expires (random id; the machine's clock), and origin and seal (a signature and "
    "a hash over the content, those fields included)",
    "ladder rung timestamps, valid_from, valid_until (clock); rungs with different timestamps have their "
    "signatures verified instead of compared",
    "evidence log: time, prev, payload_id, payload_sha256, fingerprint, and eip712_digests of "
    "eth-private-request entries (clock and random ids)",
    "vault files *.dydx-vault (random salt and nonce)",
)
_ENVELOPE_IGNORED = frozenset({"id", "created", "expires", "origin", "seal"})
_LADDER_IGNORED = re.compile(r"body\.(valid_from|valid_until|rungs\[\d+\]\.(timestamp|signature))")
_LOG_IGNORED = frozenset({"time", "prev", "payload_id", "payload_sha256", "fingerprint"})
_VAULT_SUFFIX = ".dydx-vault"


@dataclass(frozen=True)
class Difference:
    path: str
    field: str | None
    detail: str

    def line(self) -> str:
        where = f"{self.path} {self.field}" if self.field else self.path
        return f"DIFF {where}: {self.detail}"


@dataclass
class Comparison:
    same: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "ignored": list(IGNORED),
            "same": self.same,
            "differences": [{"path": d.path, "field": d.field, "detail": d.detail} for d in self.differences],
            "notes": self.notes,
            "skipped": self.skipped,
        }


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:18]}…{text[-18:]}"


def load_outputs(path: Path, skipped: list[str] | None = None) -> dict[str, bytes]:
    """{relative path: bytes} of a cold output directory, or the cold/ part of a bundle; files that may be
    secret (owner-only, vaults) are not opened but named in ``skipped``."""
    if path.is_file() or (path.is_dir() and (path / MANIFEST).is_file()):
        bundle = load_bundle(path)
        if bundle.problems:
            where, message = bundle.problems[0]
            raise InputError(f"{path}: {where} {message}")
        prefix = COLD_DIR + "/"
        cold = {p[len(prefix) :]: data for p, data in bundle.files.items() if p.startswith(prefix)}
        for name in [n for n, data in cold.items() if bytes_carry_secret_seed(data)]:
            del cold[name]  # a seed-carrying payload is a secret, not a public artefact to compare
            if skipped is not None:
                skipped.append(f"{path.name}/{name} (carries a derivation seed; not compared)")
        return cold
    if not path.is_dir() or path.is_symlink():
        raise InputError(f"{path} is neither a directory of cold outputs nor an evidence bundle")
    files: dict[str, bytes] = {}
    for root, dirs, names in os.walk(path, followlinks=False):
        depth = len(Path(root).relative_to(path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < 2)
        for name in sorted(names):
            full = Path(root) / name
            if name.startswith(".") or full.is_symlink() or not full.is_file():
                continue
            relative = str(full.relative_to(path))
            mode = stat.S_IMODE(full.lstat().st_mode)
            if name.endswith(_VAULT_SUFFIX) or not mode & 0o044:
                if skipped is not None:
                    skipped.append(f"{path.name}/{relative} (mode {mode:04o}: may hold a secret; not opened)")
                continue
            files[relative] = read_untrusted_file(full, cap=MAX_FILE_BYTES)
    return files


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if not value:
            yield prefix, []
        for i, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _compare_fields(
    path: str, a: dict[str, Any], b: dict[str, Any], ignored: Any, out: list[Difference]
) -> None:
    fa, fb = dict(_flatten(a)), dict(_flatten(b))
    for name in sorted(set(fa) | set(fb)):
        if ignored(name):
            continue
        if name not in fa or name not in fb:
            side = "A" if name in fa else "B"
            out.append(Difference(path, name, f"present only in {side}"))
        elif fa[name] != fb[name]:
            out.append(Difference(path, name, f"A {_shown(fa[name])} vs B {_shown(fb[name])}"))


def _compare_payloads(path: str, a: Payload, b: Payload, out: list[Difference], notes: list[str]) -> None:
    if a.kind != b.kind:
        out.append(Difference(path, "kind", f"A {a.kind} vs B {b.kind}"))
        return
    ladder = a.kind == "eth-private-request"

    def ignored(name: str) -> bool:
        return name in _ENVELOPE_IGNORED or (ladder and bool(_LADDER_IGNORED.fullmatch(name)))

    before = len(out)
    _compare_fields(path, a.envelope(), b.envelope(), ignored, out)
    if ladder:
        _compare_rungs(path, a, b, out, notes)
    if len(out) == before and a.to_bytes() != b.to_bytes():
        notes.append(f"{path}: differs only in ignored fields")


def _compare_rungs(path: str, a: Payload, b: Payload, out: list[Difference], notes: list[str]) -> None:
    unverified = 0
    for i, (ra, rb) in enumerate(zip(a.body["rungs"], b.body["rungs"], strict=False)):
        if ra["timestamp"] == rb["timestamp"]:
            if ra["signature"] != rb["signature"]:
                out.append(
                    Difference(
                        path, f"body.rungs[{i}].signature", "differs for the same timestamp (same message)"
                    )
                )
            continue
        unverified += 1
        for side, payload, rung in (("A", a, ra), ("B", b, rb)):
            try:
                verify_eth_private_signature(
                    payload.network_id,
                    payload.body["method"],
                    payload.body["request_path"],
                    payload.body["body"],
                    rung["timestamp"],
                    rung["signature"],
                    payload.address or "",
                )
            except AirgapError as exc:
                out.append(
                    Difference(path, f"body.rungs[{i}].signature", f"{side}'s does not verify: {exc.message}")
                )
    if unverified:
        notes.append(
            f"{path}: {unverified} rung(s) signed at different timestamps: signatures verified on both "
            "sides, not compared"
        )


def _as_log(data: bytes) -> list[dict[str, Any]] | None:
    lines = data.split(b"\n")
    if not data.endswith(b"\n") or len(lines) < 2:
        return None
    entries = []
    for line in lines[:-1]:
        try:
            entry = canonical_loads(line, max_bytes=1 << 20)
        except AirgapError:
            return None
        if not isinstance(entry, dict) or entry.get("format") != LOG_FORMAT:
            return None
        entries.append(entry)
    return entries


def _compare_logs(path: str, a: list[dict[str, Any]], b: list[dict[str, Any]], out: list[Difference]) -> None:
    if len(a) != len(b):
        out.append(Difference(path, None, f"A has {len(a)} entries, B {len(b)}"))
    for i, (ea, eb) in enumerate(zip(a, b, strict=False)):
        ladder = ea.get("kind") == "eth-private-request" and eb.get("kind") == "eth-private-request"

        def ignored(name: str, ladder: bool = ladder) -> bool:
            top = name.split("[")[0].split(".")[0]
            return top in _LOG_IGNORED or (ladder and top == "eip712_digests")

        _compare_fields(f"{path} entry {i + 1}", ea, eb, ignored, out)


def compare_outputs(a: Path, b: Path) -> Comparison:
    result = Comparison()
    files_a, files_b = load_outputs(a, result.skipped), load_outputs(b, result.skipped)
    for path in sorted(set(files_a) | set(files_b)):
        if path.endswith(_VAULT_SUFFIX):
            result.notes.append(f"{path}: vault not compared (random salt and nonce)")
            continue
        if path not in files_b or path not in files_a:
            side = "A" if path in files_a else "B"
            result.differences.append(Difference(path, None, f"only in {side}"))
            continue
        da, db = files_a[path], files_b[path]
        before = len(result.differences)
        payload_a, payload_b = _payload(da), _payload(db)
        log_a, log_b = _as_log(da), _as_log(db)
        if payload_a is not None and payload_b is not None:
            _compare_payloads(path, payload_a, payload_b, result.differences, result.notes)
        elif log_a is not None and log_b is not None:
            _compare_logs(path, log_a, log_b, result.differences)
        elif da != db:
            # No digest: a hash of a file that is secret after all would be a dictionary-attack target.
            result.differences.append(Difference(path, None, f"bytes differ ({len(da)} vs {len(db)} bytes)"))
        if len(result.differences) == before:
            result.same.append(path)
    return result


def _payload(data: bytes) -> Payload | None:
    try:
        return decode_payload(data)
    except AirgapError:
        return None
