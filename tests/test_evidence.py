"""Evidence bundles made by the real tools: cold signing, relay submission to the local API, receipts, pack.

One flow is built per test session (:func:`evidence_flow`) by running the commands a firm runs:
``dydx-offline derive``, ``sign onboarding``, ``sign api-key create``, ``dydx-relay submit`` against the local
dYdX API on 127.0.0.1 (chain id 31337), ``dydx-offline evidence bundle``, ``dydx-relay evidence
add-receipts`` and ``pack``. tests/test_audit.py checks the auditor's side on the same flow.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.evidence.archive import FIXED_MTIME, pack_archive
from dydx_airgap.shared.evidence.bip39_english import ENGLISH_SHA256, WORDS
from dydx_airgap.shared.evidence.files import BundleFiles, bundle_from_archive, load_bundle
from dydx_airgap.shared.evidence.log_chain import read_log_bytes
from dydx_airgap.shared.evidence.manifest import parse_manifest, parse_manifest_signature
from dydx_airgap.shared.evidence.message import parse_manifest_message
from dydx_airgap.shared.evidence.receipts import (
    encode_receipts_signature,
    parse_receipts,
    receipts_signing_message,
)
from dydx_airgap.shared.evidence.verify import verify_bundle
from dydx_airgap.shared.transport.payload import decode_payload
from tests.offline.test_cold_boundaries import cold as cold_without_sockets

from .conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret

NETWORK = "31337"


@dataclass(frozen=True)
class Flow:
    root: Path
    mnemonic: Path
    cold: Path
    state: Path
    bundle: Path
    tar: Path
    relay_key: str
    address: str
    api_secrets: tuple[str, ...]


_FLOW: dict[str, Flow] = {}


def ok(*args: object) -> str:
    result = run_tool(*map(str, args))  # type: ignore[arg-type]
    assert result.code == 0, result
    assert "Traceback" not in result.err
    return result.out


def cold_run(root: Path, mnemonic: Path, out: Path, account: int = 0, api_key: bool = True) -> None:
    """The cold machine's part: derive, sign onboarding, sign an api-key create ladder (scripted)."""
    vault_pass = root / f"vault-pass-{out.name}"
    if not vault_pass.exists():
        write_secret(vault_pass, "vault pass phrase")
    key = ["--mnemonic-file", mnemonic, "--network", NETWORK]
    log = ["--evidence-log", out / "evidence.jsonl", "--yes", "--account", account]
    ok(
        "dydx-offline",
        "derive",
        *key,
        "--accounts",
        account,
        "--out",
        out,
        "--vault-password-file",
        vault_pass,
    )
    ok("dydx-offline", "sign", "onboarding", *key, *log, "--out", out / "onboarding.json")
    if api_key:
        ok(
            "dydx-offline",
            "sign",
            "api-key",
            "create",
            *key,
            *log,
            "--ladder-minutes",
            "1",
            "--out",
            out / "apikey.json",
        )


def build_flow(root: Path) -> Flow:
    from dydx_airgap.online.rehearsal.v3_api import start_local_api

    mnemonic = write_secret(root / "mnemonic", TEST_MNEMONIC)
    cold, state, bundle, tar = root / "cold", root / "relay-state", root / "bundle", root / "bundle.tar"
    cold_run(root, mnemonic, cold)
    key = json.loads(ok("dydx-relay", "init-evidence-key", "--state", state, "--json"))["public_key"]
    with start_local_api(chain_id=int(NETWORK)) as api:
        for name in ("onboarding.json", "apikey.json"):
            ok("dydx-relay", "submit", cold / name, "--api", api.url, "--network", NETWORK, "--state", state)
    ok(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", mnemonic, "--network", NETWORK,
        "--log", cold / "evidence.jsonl", "--from", cold, "--out", bundle,
    )  # fmt: skip
    ok("dydx-relay", "evidence", "add-receipts", bundle, "--state", state)
    ok("dydx-relay", "evidence", "pack", bundle, "--out", tar)
    stored = json.loads((state / "api-credentials.json").read_text())
    secrets = tuple(
        value
        for entry in (stored if isinstance(stored, list) else stored.get("keys", []))
        for name, value in entry.items()
        if name in ("secret", "passphrase")
    )
    address = decode_payload((cold / "onboarding.json").read_bytes()).address
    assert address is not None
    return Flow(root, mnemonic, cold, state, bundle, tar, key, address, secrets)


def shared_flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """Built once per session, shared with tests/test_audit.py; tests copy what they change."""
    if "flow" not in _FLOW:
        _FLOW["flow"] = build_flow(tmp_path_factory.mktemp("evidence-flow"))
    return _FLOW["flow"]


@pytest.fixture(scope="session")
def evidence_flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    return shared_flow(tmp_path_factory)


# --- the bundle the tools made -----------------------------------------------------------------------------


def test_bundle_holds_what_the_log_records_signed_by_the_cold_key(evidence_flow: Flow) -> None:
    f = evidence_flow
    files = load_bundle(f.bundle).files
    assert sorted(files) == [
        "cold/apikey.json",
        "cold/evidence.jsonl",
        "cold/onboarding.json",
        f"cold/public-{NETWORK}-0000.json",
        "manifest.json",
        "manifest.sig",
        "relay/receipts.json",
        "relay/receipts.sig",
    ]
    manifest = parse_manifest(files["manifest.json"])
    assert (manifest.address, manifest.network_id) == (f.address, int(NETWORK))
    # Every artefact is byte-identical to the cold machine's file and its recorded hash is the real one.
    for art in manifest.artefacts:
        original = (f.cold / art.path.removeprefix("cold/")).read_bytes()
        assert files[art.path] == original
        assert art.sha256 == hashlib.sha256(original).hexdigest() and art.size == len(original)
    entries = read_log_bytes((f.cold / "evidence.jsonl").read_bytes(), "log")
    by_seq = {a.log_seq: a for a in manifest.artefacts if a.log_seq}
    assert {e.seq for e in entries if e.get("event") == "sign"} == set(by_seq)
    for entry in entries:
        assert entry.get("payload_sha256") == by_seq[entry.seq].sha256
    assert manifest.policy["confirmations"] == {"scripted (--yes)": 2}
    # manifest.sig: the fixed evidence text naming this manifest's SHA-256, type byte 03.
    message, signature = parse_manifest_signature(files["manifest.sig"])
    chain, address, digest = parse_manifest_message(message)
    assert (chain, address, digest) == (
        int(NETWORK),
        f.address,
        hashlib.sha256(files["manifest.json"]).digest(),
    )
    assert signature.to_bytes()[-1] == 3
    # Receipts: both submissions, accepted, tied to this manifest and to the payloads' digests.
    receipts = parse_receipts(files["relay/receipts.json"])
    assert receipts.manifest_sha256 == hashlib.sha256(files["manifest.json"]).hexdigest()
    assert receipts.relay_public_key == f.relay_key
    assert sorted(s["kind"] for s in receipts.submissions) == ["eth-private-request", "onboarding-request"]
    assert {s["payload_sha256"] for s in receipts.submissions} == {
        hashlib.sha256((f.cold / n).read_bytes()).hexdigest() for n in ("onboarding.json", "apikey.json")
    }
    assert all(s["state"] == "accepted" for s in receipts.submissions)


def test_no_api_secret_and_no_onboarding_header_reaches_the_bundle(evidence_flow: Flow) -> None:
    f = evidence_flow
    assert f.api_secrets, "the relay stored the default and the created API key's secrets"
    blob = b"".join(load_bundle(f.bundle).files.values()) + f.tar.read_bytes()
    for secret in f.api_secrets:
        assert secret.encode() not in blob
    receipts = parse_receipts(load_bundle(f.bundle).files["relay/receipts.json"])
    onboarding = next(s for s in receipts.submissions if s["kind"] == "onboarding-request")
    sent = [x for x in onboarding["exchanges"] if x["purpose"] == "submit"]
    assert sent and all("DYDX-SIGNATURE" not in x["request_headers"] for x in sent)
    assert '"secret":"<redacted>"' in sent[0]["response_body"]


def test_relay_evidence_key_is_made_once_0600_and_printed_again(evidence_flow: Flow) -> None:
    f = evidence_flow
    key_files = [p for p in f.state.iterdir() if "evidence-key" in p.name]
    assert len(key_files) == 1 and stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    again = json.loads(ok("dydx-relay", "evidence-key", "--state", f.state, "--json"))
    assert again["public_key"] == f.relay_key
    assert_clean_failure(run_tool("dydx-relay", "init-evidence-key", "--state", f.state), "already exists")
    text = ok("dydx-relay", "evidence-key", "--state", f.state)
    assert f.relay_key in text


# --- the archive ----------------------------------------------------------------------------------------


def test_archive_is_deterministic_and_plain_ustar(evidence_flow: Flow, tmp_path: Path) -> None:
    f = evidence_flow
    again = tmp_path / "again.tar"
    ok("dydx-relay", "evidence", "pack", f.tar, "--out", again)  # from the archive itself this time
    assert again.read_bytes() == f.tar.read_bytes()
    assert pack_archive(load_bundle(f.bundle).files) == f.tar.read_bytes()
    with tarfile.open(f.tar) as tar:  # the standard library reads it as a plain archive
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        top = names[0].split("/")[0]
        manifest = tar.extractfile(f"{top}/manifest.json")
        assert manifest is not None
        assert top == "dydx-evidence-" + hashlib.sha256(manifest.read()).hexdigest()[:8]
        for m in members:
            assert m.isreg() and (m.mode, m.uid, m.gid, m.mtime) == (0o644, 0, 0, FIXED_MTIME)
            assert (m.uname, m.gname) == ("", "")


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        (_info("/etc/passwd"), "dydx-evidence"),
        (_info("dydx-evidence-00000000/../../escape"), "no '..'"),
        (_info("dydx-evidence-00000000/cold/link", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        (_info("dydx-evidence-00000000/cold/hard", tarfile.LNKTYPE, "etc/passwd"), "hard link"),
        (_info("dydx-evidence-00000000/cold", tarfile.DIRTYPE), "directory"),
        (_info("dydx-evidence-00000000/cold/dev", tarfile.CHRTYPE), "not a file"),
        (_info("dydx-evidence-00000000/cold/.hidden"), "letters, digits"),
    ],
)
def test_hostile_archives_are_refused_in_memory(
    evidence_flow: Flow, member: tarfile.TarInfo, fragment: str
) -> None:
    good = load_bundle(evidence_flow.bundle).files
    top = "dydx-evidence-" + hashlib.sha256(good["manifest.json"]).hexdigest()[:8]
    members = [(_info(f"{top}/{name}"), data) for name, data in sorted(good.items())]
    member.name = member.name.replace("dydx-evidence-00000000", top)
    data = _tar([*members, (member, b"root:x:0:0")])
    bundle = bundle_from_archive(data, "evil.tar")
    result = verify_bundle(bundle, bytes.fromhex(evidence_flow.relay_key))
    assert not result.ok
    named = [c for c in result.failures if c.name in ("archive", "bundle-files")]
    assert any(fragment in c.detail for c in named), [c.line() for c in named]
    assert all(c.artefact.startswith("evil.tar") for c in named)


def test_hostile_archive_on_the_command_line_is_one_clean_verdict(
    evidence_flow: Flow, tmp_path: Path
) -> None:
    data = evidence_flow.tar.read_bytes()
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(data[: len(data) // 2 + 100])
    r = run_tool("dydx-audit", "verify", truncated, "--relay-key", evidence_flow.relay_key)
    assert r.code == 1 and "Traceback" not in r.err + r.out
    assert "FAIL archive cut.tar" in r.out
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x00\x01not a tar" * 100)
    r = run_tool("dydx-audit", "verify", junk)
    assert r.code == 1 and "FAIL archive junk.tar" in r.out


# --- what the cold side refuses to bundle ----------------------------------------------------------------


def _bundle_cmd(f: Flow, source: Path, out: Path, *extra: object) -> list[object]:
    return [
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", f.mnemonic,
        "--log", source / "evidence.jsonl", "--from", source, "--out", out, *extra,
    ]  # fmt: skip


def test_bundle_refuses_a_file_changed_after_signing(evidence_flow: Flow, tmp_path: Path) -> None:
    f = evidence_flow
    copy = tmp_path / "cold"
    shutil.copytree(f.cold, copy)
    changed = copy / "onboarding.json"
    changed.write_bytes(changed.read_bytes().replace(b'"account":0', b'"account":1'))
    r = run_tool(*map(str, _bundle_cmd(f, copy, tmp_path / "b", "--network", NETWORK)))
    assert_clean_failure(r, "onboarding.json", "changed after signing")
    assert not (tmp_path / "b").exists()


def test_bundle_refuses_a_missing_artefact_and_a_wrong_network(evidence_flow: Flow, tmp_path: Path) -> None:
    f = evidence_flow
    copy = tmp_path / "cold"
    shutil.copytree(f.cold, copy)
    (copy / "apikey.json").unlink()
    r = run_tool(*map(str, _bundle_cmd(f, copy, tmp_path / "b", "--network", NETWORK)))
    assert_clean_failure(r, "no --from directory holds", "apikey.json")
    r = run_tool(*map(str, _bundle_cmd(f, f.cold, tmp_path / "c", "--network", "sepolia")))
    assert_clean_failure(r, "records no signature")
    r = run_tool(*map(str, _bundle_cmd(f, f.cold, f.bundle, "--network", NETWORK)))
    assert_clean_failure(r, "already exists")


def test_bundle_also_finds_renamed_files_and_skips_secret_files(evidence_flow: Flow, tmp_path: Path) -> None:
    f = evidence_flow
    usb = tmp_path / "usb"
    usb.mkdir()
    shutil.copy(f.cold / "evidence.jsonl", usb / "evidence.jsonl")
    shutil.copy(f.cold / "onboarding.json", usb / "renamed-on-the-stick.json")
    (usb / "apikey.json").write_bytes((f.cold / "apikey.json").read_bytes())
    (usb / "apikey.json").chmod(0o644)
    shutil.copy(f.cold / "vault.dydx-vault", usb / "vault.dydx-vault")  # 0600: never read
    out = tmp_path / "b"
    ok(*_bundle_cmd(f, usb, out, "--network", NETWORK))
    names = sorted(load_bundle(out).files)
    assert "cold/renamed-on-the-stick.json" in names and not any("vault" in n for n in names)
    assert verify_bundle(load_bundle(out), cold_only=True).ok


def test_bundling_works_with_socket_creation_disabled(evidence_flow: Flow, tmp_path: Path) -> None:
    f = evidence_flow
    args = _bundle_cmd(f, f.cold, tmp_path / "b", "--network", NETWORK)[1:]
    proc = cold_without_sockets(*args, cwd=tmp_path)
    assert proc.returncode == 0 and "socket" not in proc.stderr, proc.stderr
    assert verify_bundle(load_bundle(tmp_path / "b"), cold_only=True).ok


# --- the relay side -------------------------------------------------------------------------------------


def test_add_receipts_works_on_an_archive_and_refuses_to_sign_a_broken_cold_part(
    evidence_flow: Flow, tmp_path: Path
) -> None:
    f = evidence_flow
    tar = tmp_path / "b.tar"
    shutil.copy(f.tar, tar)
    assert_clean_failure(
        run_tool("dydx-relay", "evidence", "add-receipts", tar, "--state", f.state),
        "already has relay receipts",
    )
    ok("dydx-relay", "evidence", "add-receipts", tar, "--state", f.state, "--replace")
    assert verify_bundle(load_bundle(tar), bytes.fromhex(f.relay_key)).ok
    broken = tmp_path / "broken"
    shutil.copytree(f.bundle, broken)
    shutil.rmtree(broken / "relay")
    log = broken / "cold" / "evidence.jsonl"
    log.write_bytes(log.read_bytes().replace(b"scripted", b"Scripted"))
    r = run_tool("dydx-relay", "evidence", "add-receipts", broken, "--state", f.state)
    assert_clean_failure(r, "cold part does not verify", "evidence.jsonl")
    assert not (broken / "relay").exists()


def _approve_request(address: str, nonce: int = 0) -> bytes:
    from datetime import timedelta

    from dydx_airgap.shared.dydx_v3.calldata import ApproveCall
    from dydx_airgap.shared.dydx_v3.networks import get_network
    from dydx_airgap.shared.transport.payload import new_payload

    net = get_network(int(NETWORK))
    body = {
        "action": "approve",
        "transaction": {
            "chain_id": net.chain_id,
            "nonce": nonce,
            "max_priority_fee_per_gas": 10**9,
            "max_fee_per_gas": 2 * 10**9,
            "gas_limit": 100_000,
            "to": net.usdc,
            "value": 0,
            "data": "0x" + ApproveCall(net.stark_perpetual, 25_500_000).encode().hex(),
        },
        "context": {
            "stark_public_key": "0x" + "00" * 31 + "01",
            "position_id": None,
            "amount": "25.5",
            "base_fee_per_gas": 10**9,
            "gas_estimate": 50_000,
            "rpc": "http://127.0.0.1:8545",
        },
    }
    return new_payload("tx-request", net.chain_id, address, body, expires_in=timedelta(hours=1)).to_bytes()


def test_signed_transaction_and_its_broadcast_receipt(evidence_flow: Flow, tmp_path: Path) -> None:
    """sign tx on the cold side; the on-chain journal's broadcast becomes a transaction receipt."""
    from dydx_airgap.online.onchain.tx_journal import TxJournal

    f = evidence_flow
    work = tmp_path / "tx"
    work.mkdir()
    request = work / "approve-request.json"
    request.write_bytes(_approve_request(f.address))
    ok(
        "dydx-offline", "sign", "tx", request, "--mnemonic-file", f.mnemonic, "--network", NETWORK,
        "--out", work / "approve-signed.json", "--yes", "--evidence-log", work / "evidence.jsonl",
    )  # fmt: skip
    signed = decode_payload((work / "approve-signed.json").read_bytes())
    state = tmp_path / "state"
    ok("dydx-relay", "init-evidence-key", "--state", state)
    with TxJournal.open(state) as journal:  # what `dydx-relay broadcast` records, written through its API
        stored = journal.add_request(
            decode_payload(request.read_bytes()),
            nonce=0,
            max_cost_wei=2 * 10**14,
            rpc_origin="http://127.0.0.1:8545",
            api_origin="http://127.0.0.1:1",
        )
        journal.start_broadcast(
            signed.body["tx_hash"], stored.id, signed.body["raw"], "http://127.0.0.1:8545"
        )
        journal.update_broadcast(signed.body["tx_hash"], "mined", block_number=7, gas_used=46_000)
    bundle = tmp_path / "bundle"
    ok(*_bundle_cmd(f, work, bundle, "--network", NETWORK))
    names = sorted(load_bundle(bundle).files)
    assert "cold/approve-request.json" in names and "cold/approve-signed.json" in names
    ok("dydx-relay", "evidence", "add-receipts", bundle, "--state", state)
    key = json.loads(ok("dydx-relay", "evidence-key", "--state", state, "--json"))["public_key"]
    r = run_tool("dydx-audit", "verify", bundle, "--relay-key", key, "--address", f.address)
    assert r.code == 0, r.out
    assert "PASS transaction cold/approve-signed.json" in r.out and "1 transaction(s)" in r.out
    receipt = parse_receipts(load_bundle(bundle).files["relay/receipts.json"]).transactions[0]
    assert (receipt["tx_hash"], receipt["state"], receipt["block_number"]) == (
        signed.body["tx_hash"],
        "mined",
        7,
    )
    assert receipt["request_sha256"] == hashlib.sha256(request.read_bytes()).hexdigest()
    # The relay claiming it broadcast other bytes is caught, even with its own valid signature.
    from dydx_airgap.online.evidence.receipts import load_evidence_key

    files = load_bundle(bundle).files
    edited = json.loads(files["relay/receipts.json"])
    edited["transactions"][0]["raw_sha256"] = "00" * 32
    result = verify_bundle(
        bundle_from_dict(resign_receipts(files, load_evidence_key(state), edited)), bytes.fromhex(key)
    )
    assert [(c.name, c.artefact) for c in result.failures] == [("relay-receipts", "relay/receipts.json")]


def resign_receipts(
    files: dict[str, bytes], key: Any, receipts: dict[str, Any] | None = None
) -> dict[str, bytes]:
    """Receipts (possibly edited) signed again with ``key``, stating that key as the relay's."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    value = receipts if receipts is not None else json.loads(files["relay/receipts.json"])
    value["relay_public_key"] = public.hex()
    data = canonical_dumps(value)
    digest = hashlib.sha256(data).digest()
    out = dict(files)
    out["relay/receipts.json"] = data
    out["relay/receipts.sig"] = encode_receipts_signature(
        public, digest, key.sign(receipts_signing_message(digest))
    )
    return out


def bundle_from_dict(files: dict[str, bytes]) -> BundleFiles:
    return BundleFiles("test", files)


def test_bip39_word_list_is_the_standard_one() -> None:
    assert len(WORDS) == 2048 == len(set(WORDS))
    assert hashlib.sha256(("\n".join(WORDS) + "\n").encode()).hexdigest() == ENGLISH_SHA256
    assert ENGLISH_SHA256 == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"


def test_bundle_includes_the_keys_public_file_when_no_from_directory_holds_it(
    evidence_flow: Flow, tmp_path: Path
) -> None:
    f = evidence_flow
    signed_only = tmp_path / "signed-only"
    signed_only.mkdir()
    for name in ("onboarding.json", "apikey.json", "evidence.jsonl"):
        shutil.copy2(f.cold / name, signed_only / name)
    out = tmp_path / "bundle"
    built = ok(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", f.mnemonic, "--network", NETWORK,
        "--evidence-log", signed_only / "evidence.jsonl", "--from", signed_only, "--out", out,
    )  # fmt: skip
    assert "made now from the key" in built
    files = load_bundle(out).files
    public = decode_payload(files[f"cold/public-{NETWORK}-0000.json"])
    published = decode_payload((f.cold / f"public-{NETWORK}-0000.json").read_bytes())
    assert public.kind == "public-key" and public.body == published.body  # the same key, made again
    checked = ok("dydx-audit", "verify", out, "--address", f.address, "--cold-only")
    assert f"and with cold/public-{NETWORK}-0000.json" in checked


def test_no_tool_writes_a_bundle_too_large_for_the_auditor_to_open(tmp_path: Path) -> None:
    """write_bundle_dir and write_bundle_archive (the cold bundle, the relay's receipts and pack) refuse, before
    writing anything, a bundle that load_bundle would refuse; a bundle at the limits opens both ways."""
    from dydx_airgap.shared.errors import PolicyError
    from dydx_airgap.shared.evidence.archive import read_archive
    from dydx_airgap.shared.evidence.files import write_bundle_archive, write_bundle_dir
    from dydx_airgap.shared.evidence.layout import (
        MAX_ARCHIVE_BYTES,
        MAX_FILE_BYTES,
        MAX_FILES,
        limits_problem,
    )

    at_limit = {f"cold/f{i:05d}.json": b"x" for i in range(MAX_FILES)}  # 1-byte files: the most padding
    assert limits_problem(at_limit) is None
    archive = pack_archive(at_limit)
    assert len(archive) <= MAX_ARCHIVE_BYTES
    opened = read_archive(archive)
    assert opened.problems == [] and opened.files == at_limit
    too_many = {**at_limit, "cold/one-more.json": b"x"}
    too_large = {"cold/log.jsonl": bytes(MAX_FILE_BYTES + 1)}
    for files, why in ((too_many, "20,001 files"), (too_large, "the largest 64.0 MiB")):
        with pytest.raises(PolicyError, match=f"{why}.*nothing was written"):
            write_bundle_dir(tmp_path / "bundle", files)
        with pytest.raises(PolicyError, match="nothing was written"):
            write_bundle_archive(tmp_path / "bundle.tar", files)
        assert not (tmp_path / "bundle").exists() and list(tmp_path.iterdir()) == []
