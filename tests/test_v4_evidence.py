"""dYdX v4 in the evidence trail: a v4 signature made on the cold machine goes into the bundle with the
request it answers and the account's public file, and the auditor's verify checks it (SignDoc → public key →
address) — and refuses the bundle when either file is altered."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from dydx_airgap.offline.evidence.log import GENESIS, log_head
from dydx_airgap.offline.keys.sources import KeySourceOptions, load_keys
from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.evidence.files import BundleFiles, load_bundle
from dydx_airgap.shared.evidence.manifest import parse_manifest
from dydx_airgap.shared.evidence.verify import verify_bundle
from dydx_airgap.shared.timestamps import iso_ms
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret
from tests.offline.test_v4_cold import MAINNET_TXS, request_fields, write_request
from tests.test_audit import reseal

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the test mnemonic's first account


def _signed_bundle(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass phrase")
    work = tmp_path / "cold"
    work.mkdir()
    tx = MAINNET_TXS["withdraw_subaccount_0_to_own_address"]
    write_request(work / "req.json", request_fields(tx))
    derived = run_tool(
        "dydx-offline", "derive-v4", "--mnemonic-file", mn, "--v4-network", "mainnet", "--out", work / "keys",
        "--vault-password-file", vp,
    )  # fmt: skip
    assert derived.code == 0, derived
    signed = run_tool(
        "dydx-offline", "sign", "v4", "req.json", "--mnemonic-file", mn, "--v4-network", "mainnet",
        "--out", "signed.json", "--yes", "--evidence-log", "log.jsonl", cwd=work,
    )  # fmt: skip
    assert signed.code == 0, signed
    bundle = tmp_path / "bundle"
    built = run_tool(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", mn, "--network", "1",
        "--evidence-log", work / "log.jsonl", "--from", work, "--from", work / "keys", "--out", bundle, "--json",
    )  # fmt: skip
    assert built.code == 0, built
    return bundle, tx


def _verify(bundle: Path) -> Any:
    return run_tool("dydx-audit", "verify", bundle, "--address", ADDRESS, "--cold-only", "--json")


def test_a_v4_signature_is_bundled_with_its_request_and_public_file_and_verifies(tmp_path: Path) -> None:
    bundle, tx = _signed_bundle(tmp_path)
    kinds = sorted(json.loads((bundle / "manifest.json").read_text())["artefacts"], key=lambda a: a["path"])
    assert {a["kind"] for a in kinds} >= {"v4-tx-request", "v4-signed-tx", "v4-public-key"}
    verified = _verify(bundle)
    assert verified.code == 0, verified
    report = json.loads(verified.out)
    assert report["ok"] is True
    (line,) = [c for c in report["checks"] if c["name"] == "transaction"]
    assert (
        line["verdict"] == "PASS" and tx["txhash"] in line["detail"] and "SIGN_MODE_DIRECT" in line["detail"]
    )


def test_an_altered_v4_request_or_signed_tx_in_a_bundle_fails_verify(tmp_path: Path) -> None:
    bundle, _ = _signed_bundle(tmp_path)
    for name in ("req.json", "signed.json"):
        copy = tmp_path / f"altered-{name}"
        shutil.copytree(bundle, copy)
        target = copy / "cold" / name
        data = bytearray(target.read_bytes())
        at = data.index(b'"created":"') + len('"created":"') + 3  # a digit of the year
        data[at] = ord("7") if data[at] != ord("7") else ord("8")
        target.write_bytes(bytes(data))
        result = _verify(copy)
        assert result.code != 0, (name, result)


def test_a_bundle_without_the_request_a_v4_signature_answers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    _signed_bundle(tmp_path / "first")
    mn = tmp_path / "first" / "mn"
    work = tmp_path / "first" / "cold"
    (work / "req.json").unlink()
    result = run_tool(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", mn, "--network", "1",
        "--evidence-log", work / "log.jsonl", "--from", work, "--out", tmp_path / "again",
    )  # fmt: skip
    assert_clean_failure(result, "v4-tx-request")
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


def _relogged(files: dict[str, bytes], log_path: str, time_of_sign: str | None) -> dict[str, bytes]:
    """The log rewritten with its hash chain intact (what an insider or a broken tool could produce)."""
    prev, lines = GENESIS, []
    for raw in files[log_path].splitlines():
        entry = json.loads(raw)
        entry["prev"] = prev
        if time_of_sign is not None and entry["event"] == "sign":
            entry["time"] = time_of_sign
        lines.append(canonical_dumps(entry))
        prev = log_head(entry)
    return {**files, log_path: b"\n".join(lines) + b"\n"}


def test_a_signature_logged_after_its_request_expired_fails_signed_in_time(tmp_path: Path) -> None:
    bundle, _ = _signed_bundle(tmp_path)
    files = load_bundle(bundle).files
    manifest = parse_manifest(files["manifest.json"])
    (request,) = [decode_payload(files[a.path]) for a in manifest.artefacts if a.kind == "v4-tx-request"]
    expiry = request.expires_at()
    assert expiry is not None
    key = next(load_keys(KeySourceOptions(mnemonic_file=tmp_path / "mn"), [0])).key
    log_path = manifest.evidence_log.path

    def failures(time_of_sign: str | None) -> set[str]:
        resealed = reseal(_relogged(files, log_path, time_of_sign), key)
        return {c.name for c in verify_bundle(BundleFiles("test", resealed), None, True).failures}

    assert failures(None) == set()  # the re-chaining and resealing alone break nothing
    assert failures(iso_ms(expiry)) == set()  # signed at the last valid moment
    assert failures(iso_ms(expiry + timedelta(milliseconds=1))) == {"signed-in-time"}
