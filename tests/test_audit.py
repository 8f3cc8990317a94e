"""The auditor's tool on a real bundle: verify, bit flips, secrets, the relay key, the HTML report, compare.

The bundle comes from tests/test_evidence.py (real commands, real local API). Tampered variants are made
here the way an insider would have to make them to get past the hashes: the cold manifest re-signed with
the cold key (offline/ code, as the cold machine would), the receipts re-signed with the relay's key — so
that the check under test is the only one left to catch them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from dydx_airgap.offline.evidence.log import append_entry
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.sources import KeySourceOptions, load_keys
from dydx_airgap.online.evidence.receipts import load_evidence_key
from dydx_airgap.shared.audit.report import CSP, text
from dydx_airgap.shared.dydx_v3.eip712 import (
    STARK_KEY_ACTION,
    onboarding_action_digest,
    onboarding_action_message,
    personal_sign_text,
)
from dydx_airgap.shared.evidence.files import BundleFiles, bundle_from_archive, load_bundle
from dydx_airgap.shared.evidence.log_chain import read_log_bytes
from dydx_airgap.shared.evidence.manifest import LogReference, encode_manifest_signature, parse_manifest
from dydx_airgap.shared.evidence.message import manifest_message
from dydx_airgap.shared.evidence.verify import Verification, verify_bundle
from dydx_airgap.shared.transport.payload import decode_payload

from .conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret
from .test_evidence import NETWORK, Flow, cold_run, resign_receipts, shared_flow


@pytest.fixture(scope="session")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    return shared_flow(tmp_path_factory)


FLIPS = int(os.environ.get("EVIDENCE_FLIPS", "1000"))
TAR_FLIPS = max(200, FLIPS // 5)
CHROMIUM = Path("/usr/bin/chromium")


def stream(seed: bytes, count: int) -> list[int]:
    """Deterministic 64-bit numbers from SHA-256 (reproducible, no random module)."""
    return [
        int.from_bytes(hashlib.sha256(seed + i.to_bytes(8, "big")).digest()[:8], "big") for i in range(count)
    ]


def cold_key(flow: Flow) -> ColdKey:
    return next(load_keys(KeySourceOptions(mnemonic_file=flow.mnemonic), [0])).key


def verify(flow: Flow, files: dict[str, bytes], cold_only: bool = False) -> Verification:
    return verify_bundle(BundleFiles("test", files), bytes.fromhex(flow.relay_key), cold_only)


def reseal(files: dict[str, bytes], key: ColdKey) -> dict[str, bytes]:
    """What an insider holding the cold key would do after editing cold artefacts: new manifest, new signature
    (the relay part goes: its receipts named the old manifest)."""
    manifest = parse_manifest(files["manifest.json"])
    artefacts = tuple(
        dataclasses.replace(
            a,
            sha256=hashlib.sha256(files[a.path]).hexdigest(),
            size=len(files[a.path]),
            fingerprint=decode_payload(files[a.path]).fingerprint if a.is_payload else None,
        )
        for a in manifest.artefacts
    )
    entries = read_log_bytes(files[manifest.evidence_log.path], "log")
    log = LogReference(manifest.evidence_log.path, len(entries), entries[-1].line_sha256)
    data = dataclasses.replace(manifest, artefacts=artefacts, evidence_log=log).to_bytes()
    digest = hashlib.sha256(data).digest()
    signature = key.sign_evidence_manifest(manifest.network_id, digest)
    out = {k: v for k, v in files.items() if not k.startswith("relay/")}
    out["manifest.json"] = data
    out["manifest.sig"] = encode_manifest_signature(
        manifest_message(manifest.network_id, key.address, digest), signature
    )
    return out


# --- verify ---------------------------------------------------------------------------------------------


def test_verify_passes_on_directory_and_archive_and_pins_the_relay_key(flow: Flow) -> None:
    f = flow
    for target in (f.bundle, f.tar):
        r = run_tool(
            "dydx-audit", "verify", target, "--relay-key", f.relay_key, "--address", f.address.lower()
        )
        assert r.code == 0, r
        lines = r.out.splitlines()
        assert lines[-1].startswith("verdict: all") and all(
            line.startswith(("PASS ", "verdict:")) for line in lines
        )
        for name in (
            "manifest-signature",
            "artefact-hash",
            "evidence-log",
            "request-signatures",
            "relay-signature",
            "relay-receipts",
            "no-secret",
        ):
            assert f"PASS {name} " in r.out, name
        assert "pinned relay key" in r.out and "pinned address" in r.out and "not pinned" not in r.out
    r = run_tool("dydx-audit", "verify", f.tar, "--json", "--unpinned")
    assert r.code == 0
    report = json.loads(r.out)
    assert report["ok"] is True and report["address"] == f.address and report["relay_key"] == f.relay_key
    assert report["relay_key_pinned"] is False and report["signer_pinned"] is False
    assert any("signer address not pinned" in c["detail"] for c in report["checks"])
    assert any(
        "relay key not pinned" in c["detail"] for c in report["checks"] if c["name"] == "relay-signature"
    )
    assert {c["verdict"] for c in report["checks"]} == {"PASS"}


def test_every_rung_and_the_onboarding_signature_are_checked(flow: Flow) -> None:
    """A payload re-signed by the cold key with one rung's signature swapped fails on that artefact only."""
    f = flow
    files = dict(load_bundle(f.bundle).files)
    raw = json.loads(files["cold/apikey.json"])
    raw["body"]["rungs"][1]["signature"], raw["body"]["rungs"][2]["signature"] = (
        raw["body"]["rungs"][2]["signature"],
        raw["body"]["rungs"][1]["signature"],
    )
    key = cold_key(f)
    forged = dataclasses.replace(decode_payload(files["cold/apikey.json"]), body=raw["body"])
    origin = key.sign_payload_origin(forged.network_id, forged.content_digest()).to_hex()
    files["cold/apikey.json"] = dataclasses.replace(
        forged, origin=origin
    ).to_bytes()  # well-formed, re-signed
    result = verify(f, reseal(files, key), cold_only=True)
    failures = {(c.name, c.artefact): c.detail for c in result.failures}
    assert "rung 1" in failures[("request-signatures", "cold/apikey.json")]
    # ...and the evidence log still records the payload as it was signed, so that check names it too.
    assert ("evidence-log", "cold/apikey.json") in failures
    assert ("request-signatures", "cold/onboarding.json") not in failures


def count_worker_answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Wraps shared/parallel.py's run_in_workers: the list records, per call, whether the workers answered
    (so a test comparing the parallel path with the serial one knows the parallel path really ran)."""
    from dydx_airgap.shared import parallel as parallel_module

    real = parallel_module.run_in_workers
    answered: list[bool] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        chunks = real(*args, **kwargs)
        answered.append(chunks is not None)
        return chunks

    monkeypatch.setattr(parallel_module, "run_in_workers", counting)
    return answered


def test_checks_on_every_core_give_exactly_the_serial_verdicts(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large bundles decode, check request signatures and scan for secrets in workers: the same check
    lines, passing or failing, as one process gives."""
    from dydx_airgap.shared.evidence import verify as verify_module

    good = dict(load_bundle(flow.bundle).files)
    swapped = dict(good)
    raw = json.loads(swapped["cold/apikey.json"])
    raw["body"]["rungs"][0]["signature"] = raw["body"]["rungs"][1]["signature"]
    swapped["cold/apikey.json"] = json.dumps(raw).encode()  # not canonical any more: the payload fails
    for files in (good, swapped):
        serial = [c.line() for c in verify(flow, files).checks]
        monkeypatch.setattr(verify_module, "PARALLEL_MIN_ITEMS", 1)
        monkeypatch.setattr(verify_module, "WORKERS", 2)
        answered = count_worker_answers(monkeypatch)
        parallel = [c.line() for c in verify(flow, files).checks]
        monkeypatch.undo()
        assert parallel == serial
        assert answered and all(answered)  # the workers did answer: this compared the two paths


def test_the_report_drawn_on_every_core_is_byte_for_byte_the_serial_one(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large bundle's QR codes are drawn in workers; the page is the same as one process draws."""
    from dydx_airgap.shared.audit import report as report_module

    files = load_bundle(flow.bundle)
    result = verify(flow, files.files)
    monkeypatch.setattr(report_module, "QR_WORKERS", 1)
    serial = report_module.render_report(result, files)
    monkeypatch.setattr(report_module, "QR_PARALLEL_MIN_ITEMS", 1)
    monkeypatch.setattr(report_module, "QR_WORKERS", 2)
    answered = count_worker_answers(monkeypatch)
    assert report_module.render_report(result, files) == serial
    assert answered == [True]  # the workers drew the codes: this compared the two paths
    assert serial.count('<div class="qr">') >= 4


def test_missing_relay_part_fails_unless_cold_only(flow: Flow) -> None:
    files = {k: v for k, v in load_bundle(flow.bundle).files.items() if not k.startswith("relay/")}
    assert not verify(flow, files).ok
    assert verify(flow, files, cold_only=True).ok
    assert [c.name for c in verify(flow, files).failures] == ["relay-receipts"]


def test_the_relay_key_fingerprint_is_refused_as_a_pin_with_what_to_pass_instead(flow: Flow) -> None:
    digest = hashlib.sha256(bytes.fromhex(flow.relay_key)).hexdigest()[:16]
    fingerprint = "-".join(digest[i : i + 4] for i in range(0, 16, 4))
    r = run_tool("dydx-audit", "verify", flow.bundle, "--relay-key", fingerprint, "--address", flow.address)
    assert_clean_failure(r, "fingerprint", "64 hex digits", "dydx-relay init-evidence-key")


def test_a_bundle_signed_by_another_cold_key_fails_against_the_pinned_address(flow: Flow) -> None:
    other = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # the test mnemonic's account 1
    r = run_tool("dydx-audit", "verify", flow.bundle, "--relay-key", flow.relay_key, "--address", other)
    assert r.code == 1
    fails = [line for line in r.out.splitlines() if line.startswith("FAIL")]
    assert fails == [
        f"FAIL manifest-signature manifest.sig: the bundle is signed by {flow.address}, not the pinned "
        f"{other} (manifest.json)"
    ]


def test_unpinned_verify_says_so_and_exits_non_zero_without_the_flag(flow: Flow, figure) -> None:
    """Finding 10(d): a verdict against the keys a bundle states proves only self-consistency."""
    f = flow
    runs = {
        "no pins": [],
        "address only": ["--address", f.address],
        "relay key only": ["--relay-key", f.relay_key],
        "no pins, --json": ["--json"],
    }
    refused = 0
    for extra in runs.values():
        r = run_tool("dydx-audit", "verify", f.bundle, *extra)
        said = "UNPINNED" in r.out or (r.out.startswith("{") and bool(json.loads(r.out)["unpinned"]))
        refused += r.code == 1 and said
    figure(f"audit: unpinned verify runs exiting 1 with an UNPINNED verdict: {refused} of {len(runs)}")
    assert refused == len(runs)
    r = run_tool("dydx-audit", "verify", f.bundle, "--unpinned")
    assert r.code == 0 and "UNPINNED" in r.out.splitlines()[-1], r
    r = run_tool("dydx-audit", "verify", f.bundle, "--address", f.address, "--relay-key", f.relay_key)
    assert r.code == 0 and "UNPINNED" not in r.out, r


def test_bad_relay_key_option_is_a_usage_error(flow: Flow) -> None:
    r = run_tool("dydx-audit", "verify", flow.bundle, "--relay-key", "xyz")
    assert r.code == 2 and "--relay-key" in r.err and "Traceback" not in r.err
    r = run_tool("dydx-audit", "verify", flow.bundle, "--address", "0x1234")
    assert r.code == 2 and "--address" in r.err and "Traceback" not in r.err


# --- every single-bit change is detected and named ---------------------------------------------------------


def test_every_bit_flip_in_the_bundle_is_detected_and_named(flow: Flow, figure) -> None:
    f = flow
    files = load_bundle(f.bundle).files
    assert verify(f, files).ok
    paths = sorted(files)
    sizes = [len(files[p]) for p in paths]
    total_bits = 8 * sum(sizes)
    touched: set[str] = set()
    for number in stream(b"evidence-bundle-flips", FLIPS):
        bit = number % total_bits
        offset = bit // 8
        index = 0
        while offset >= sizes[index]:
            offset -= sizes[index]
            index += 1
        path = paths[index]
        data = bytearray(files[path])
        data[offset] ^= 1 << (bit % 8)
        result = verify(f, {**files, path: bytes(data)})
        assert not result.ok, (path, offset)
        assert any(path in c.line() for c in result.failures), (
            path,
            offset,
            [c.line() for c in result.failures],
        )
        touched.add(path)
    assert touched == set(paths)  # the flips reached every file of the bundle
    figure(
        f"evidence: {FLIPS}/{FLIPS} random bit flips across {len(paths)} bundle files detected and named (100 %)"
    )


def test_every_bit_flip_in_the_archive_is_detected_and_named(flow: Flow, figure) -> None:
    f = flow
    data = f.tar.read_bytes()
    key = bytes.fromhex(f.relay_key)
    spans = []  # (start, end, member path) from the standard library's reading of the archive
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            spans.append((m.offset, m.offset_data + m.size + (-m.size % 512), m.name.split("/", 1)[1]))
    for number in stream(b"evidence-archive-flips", TAR_FLIPS):
        bit = number % (8 * len(data))
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        result = verify_bundle(bundle_from_archive(bytes(flipped), "bundle.tar"), key)
        assert not result.ok, bit // 8
        member = next((name for start, end, name in spans if start <= bit // 8 < end), None)
        names = ("bundle.tar",) if member is None else ("bundle.tar", member)
        assert any(n in c.line() for c in result.failures for n in names), [c.line() for c in result.failures]
    figure(
        f"evidence: {TAR_FLIPS}/{TAR_FLIPS} random bit flips of the .tar archive detected and named (100 %)"
    )


# --- secrets ---------------------------------------------------------------------------------------------


def stark_key_signature(how: str) -> str:
    """The account's "dYdX STARK Key" signature, made here with eth-account (not our signer)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(TEST_MNEMONIC)
    chain = int(NETWORK)
    if how == "eip712":
        signed = account.unsafe_sign_hash(onboarding_action_digest(chain, STARK_KEY_ACTION))
        suffix = "00"
    else:
        text = personal_sign_text(chain, onboarding_action_message(chain, STARK_KEY_ACTION))
        signed = account.sign_message(encode_defunct(text=text))
        suffix = "03"
    return "0x" + signed.signature.hex().removeprefix("0x")[:130] + suffix


def only_no_secret_fails(result: Verification, artefact: str) -> None:
    assert not result.ok
    assert {c.name for c in result.failures} == {"no-secret"}, [c.line() for c in result.failures]
    assert all(c.artefact == artefact for c in result.failures), [c.line() for c in result.failures]


@pytest.mark.parametrize("how", ["eip712", "personal-sign"])
def test_stark_key_signature_in_the_cold_log_fails_only_the_no_secret_check(
    flow: Flow, tmp_path: Path, how: str
) -> None:
    f = flow
    files = dict(load_bundle(f.bundle).files)
    log = tmp_path / "evidence.jsonl"
    log.write_bytes(files["cold/evidence.jsonl"])
    append_entry(log, "doctor-override", {"note": f"debug dump {stark_key_signature(how)}"})
    files["cold/evidence.jsonl"] = log.read_bytes()
    result = verify(f, reseal(files, cold_key(f)), cold_only=True)
    only_no_secret_fails(result, "cold/evidence.jsonl")
    assert any("dYdX STARK Key" in c.detail and f.address in c.detail for c in result.failures)
    assert not any(stark_key_signature(how)[2:40] in c.line() for c in result.checks)  # never printed


def _edit_receipts(f: Flow, change: Any) -> Verification:
    files = load_bundle(f.bundle).files
    receipts = json.loads(files["relay/receipts.json"])
    change(receipts)
    return verify(f, resign_receipts(files, load_evidence_key(f.state), receipts))


def test_secrets_in_the_relay_receipts_fail_only_the_no_secret_check(flow: Flow) -> None:
    f = flow
    onboarding_sig = json.loads((f.cold / "onboarding.json").read_text())["body"]["signature"]
    injections = {
        "private key field": lambda r: r["submissions"][0]["result"].update(private_key="0x" + "5a" * 32),
        "api secret": lambda r: r["submissions"][0]["result"].update(
            apiSecret="6pULxCHcMHiJSjdr83_jhJI8JrIiLnLZ7"
        ),
        "mnemonic": lambda r: r["submissions"][1].update(note=f"operator wrote: {TEST_MNEMONIC}"),
        "onboarding signature": lambda r: r["submissions"][1].update(note=f"sent {onboarding_sig}"),
        "stark key signature in a body": lambda r: r["submissions"][1]["exchanges"][0].update(
            response_body=json.dumps({"debug": stark_key_signature("eip712")})
        ),
    }
    for label, change in injections.items():
        result = _edit_receipts(f, change)
        only_no_secret_fails(result, "relay/receipts.json")
        assert result.failures, label
    clean = _edit_receipts(f, lambda r: r["submissions"][1].update(note="API key ids: " + "x" * 5))
    assert clean.ok


def test_onboarding_signature_is_allowed_in_its_payload_only(flow: Flow) -> None:
    result = verify(flow, load_bundle(flow.bundle).files)
    assert result.ok  # cold/onboarding.json carries it, as it must: that is the request dYdX checks


# --- the relay key ---------------------------------------------------------------------------------------


def test_receipts_resigned_by_another_key_fail_against_the_pinned_key(flow: Flow, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    f = flow
    forged = tmp_path / "forged"
    shutil.copytree(f.bundle, forged)
    files = resign_receipts(load_bundle(f.bundle).files, Ed25519PrivateKey.generate())
    for name in ("relay/receipts.json", "relay/receipts.sig"):
        (forged / name).write_bytes(files[name])
    r = run_tool("dydx-audit", "verify", forged, "--unpinned")
    assert (
        r.code == 0 and "relay key not pinned" in r.out
    )  # self-consistent, and the auditor is told why it is not enough
    r = run_tool("dydx-audit", "verify", forged, "--relay-key", f.relay_key)
    assert r.code == 1
    fails = [line for line in r.out.splitlines() if line.startswith("FAIL")]
    assert fails and all(line.startswith("FAIL relay-signature relay/receipts.sig") for line in fails), fails
    assert "not the pinned" in fails[0]


# --- the HTML report -------------------------------------------------------------------------------------


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _page_requests(netlog: Path) -> list[tuple[str, str]]:
    """(initiator, url) of every request a page started; the browser's own start 'not an origin'."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    found = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start and params.get("initiator", "not an origin") != "not an origin":
            found.append((params["initiator"], params["url"]))
    return found


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_report_renders_in_chromium_with_verdicts_and_makes_no_request(flow: Flow, tmp_path: Path) -> None:
    from PIL import Image

    f = flow
    page = tmp_path / "report.html"
    r = run_tool("dydx-audit", "report", f.tar, "--html", page, "--relay-key", f.relay_key)
    assert r.code == 0, r
    html = page.read_text()
    scan = _Scan()
    scan.feed(html)
    assert f'content="{CSP}"' in html and "script" not in scan.tags
    assert not re.search(r"https?://", html), "no URL anywhere in the page, not even as text"
    assert not [a for a in scan.attributes if a[1] in ("src", "href", "action", "srcset", "xlink:href")]
    # The DOM as Chromium built it, and every request it made while loading the page.
    netlog = tmp_path / "net.json"
    dom = _chromium(f"--log-net-log={netlog}", "--dump-dom", page.as_uri(), profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "PASS — all" in dom.stdout and f.address in dom.stdout and f.relay_key in dom.stdout
    assert dom.stdout.count('class="PASS"') >= 10 and 'class="FAIL"' not in dom.stdout
    assert "<svg" in dom.stdout  # the QR codes
    assert _page_requests(netlog) == []
    shot = tmp_path / "shot.png"
    r2 = _chromium(f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri(), profile=tmp_path / "p2")
    assert r2.returncode == 0 and shot.exists()
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20  # text, tables, green verdicts: not a blank page
    # The request detector itself works: a page that does fetch something is seen doing it.
    canary = tmp_path / "canary.html"
    canary.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png">')
    control = tmp_path / "control.json"
    _chromium(f"--log-net-log={control}", "--dump-dom", canary.as_uri(), profile=tmp_path / "p3")
    assert [url for _, url in _page_requests(control)] == ["http://127.0.0.1:9/x.png"]


def test_report_escapes_hostile_text_and_shows_failures(flow: Flow, tmp_path: Path) -> None:
    f = flow
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> \u202egnp.exe https://evil.example/"
    forged = tmp_path / "forged"
    shutil.copytree(f.bundle, forged)
    files = load_bundle(f.bundle).files
    receipts = json.loads(files["relay/receipts.json"])
    receipts["submissions"][0]["note"] = hostile
    edited = resign_receipts(files, load_evidence_key(f.state), receipts)
    for name in ("relay/receipts.json", "relay/receipts.sig"):
        (forged / name).write_bytes(edited[name])
    (forged / "cold" / "onboarding.json").write_bytes(b"{}")  # and a broken artefact
    page = tmp_path / "r.html"
    r = run_tool("dydx-audit", "report", forged, "--html", page, "--relay-key", f.relay_key)
    assert r.code == 1 and "FAIL" in r.out
    html = page.read_text()
    scan = _Scan()
    scan.feed(html)
    assert "script" not in scan.tags and "img" not in scan.tags
    assert "\u202e" not in html and "\\u{202e}" in html
    assert "&lt;script&gt;" in html and not re.search(r"https?://", html)
    assert 'class="FAIL"' in html and "cold/onboarding.json" in html
    assert text("a\u202eb<c>") == "a\\u{202e}b&lt;c&gt;"


# --- compare ---------------------------------------------------------------------------------------------


def test_compare_two_cold_runs_with_the_same_inputs_and_a_different_account(
    flow: Flow, tmp_path: Path
) -> None:
    f = flow
    second = tmp_path / "second"
    cold_run(tmp_path, f.mnemonic, second)  # the second cold machine: same mnemonic, same commands
    r = run_tool("dydx-audit", "compare", f.cold, second)
    assert r.code == 0, r
    assert "verdict: identical" in r.out and "DIFF" not in r.out
    for name in ("apikey.json", f"public-{NETWORK}-0000.json", "evidence.jsonl"):
        assert f"SAME {name}" in r.out
    assert r.out.startswith("ignored: payload id, created, expires")
    # Secrets are never opened: the vault and the seed-carrying onboarding payload (0600) are skipped.
    assert "skipped: cold/onboarding.json" in r.out and ".dydx-vault (mode 0600" in r.out
    # The bundle compares as its cold part.
    assert run_tool("dydx-audit", "compare", f.bundle, second).code == 0
    # Another account, same file names: the differing fields are named.
    third = tmp_path / "third"
    cold_run(tmp_path, f.mnemonic, third, account=1)
    r = run_tool("dydx-audit", "compare", f.cold, third, "--json")
    assert r.code == 1
    result = json.loads(r.out)
    fields = {(d["path"], d["field"]) for d in result["differences"]}
    assert ("apikey.json", "address") in fields
    assert any(path == "evidence.jsonl entry 1" and field == "address" for path, field in fields), fields
    assert not any(field in ("id", "created", "expires", "origin", "seal") for _, field in fields)


def test_compare_never_opens_secret_files_and_says_which_it_skipped(tmp_path: Path, figure) -> None:
    """Finding 3: compare printed a SHA-256 prefix of every differing file, a vault passphrase file included."""
    import hashlib

    secrets = {
        "vault-pass.txt": ("correct horse battery", "staple battery horse"),
        "mnemonic.txt": ("abandon " * 11 + "about", "zoo " * 11 + "wrong"),
        "keystore.json": ('{"crypto": 1}', '{"crypto": 2}'),
        "accounts.dydx-vault": ("vault A", "vault B"),
    }
    sides = [tmp_path / "A", tmp_path / "B"]
    for i, side in enumerate(sides):
        side.mkdir()
        (side / "notes.txt").write_text(f"public note {i}\n")
        for name, contents in secrets.items():
            write_secret(side / name, contents[i])
    r = run_tool("dydx-audit", "compare", *sides)
    assert r.code == 1 and "DIFF notes.txt" in r.out, r  # public files are still compared
    kept_private = 0
    for name, contents in secrets.items():
        digests = [hashlib.sha256((c + "\n").encode()).hexdigest()[:16] for c in contents]
        listed = all(f"skipped: {side.name}/{name}" in r.out for side in sides)
        kept_private += (
            listed and not any(d in r.out + r.err for d in digests) and f"DIFF {name}" not in r.out
        )
    figure(
        f"audit: secret files compare skipped and named, no digest printed: {kept_private} of {len(secrets)}"
    )
    assert kept_private == len(secrets)
    for public in ("public note 0\n", "public note 1\n"):
        assert hashlib.sha256(public.encode()).hexdigest()[:16] not in r.out
