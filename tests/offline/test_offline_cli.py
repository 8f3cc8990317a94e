"""dydx-offline as a person runs it: real processes, real files, one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dydx_airgap.offline.keys.vault import read_vault
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import (
    KIT_VECTORS,
    TEST_MNEMONIC,
    assert_clean_failure,
    kit_vectors,
    run_tool,
    write_secret,
)


def test_selftest_builtin_and_kit_file() -> None:
    r = run_tool("dydx-offline", "selftest")
    assert r.code == 0, r
    assert "40 passed, 0 failed" in r.out  # 10 v3 vectors + 30 v4 (upstream, derivations, txs, trees)
    r = run_tool("dydx-offline", "selftest", "--vectors", KIT_VECTORS, "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["failed"] == [] and len(report["passed"]) == len(kit_vectors())


def test_selftest_reports_a_wrong_field(tmp_path: Path) -> None:
    doc = json.loads(KIT_VECTORS.read_text())
    doc["vectors"][0]["stark_public_key"] = "0x" + "00" * 31 + "01"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    r = run_tool("dydx-offline", "selftest", "--vectors", bad, "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert report["failed"] == [{"name": doc["vectors"][0]["name"], "fields": ["stark_public_key"]}]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{", "not valid JSON"),
        ('{"format": "other", "vectors": []}', "not a vectors file"),
        (
            '{"format": "dydx-v3-vectors/1", "vectors": [{"name": "a", "network_id": 1, "eth_private_key": "0x01",'
            ' "surprise": "x"}]}',
            "unknown field",
        ),
    ],
)
def test_selftest_malformed_vectors_is_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    f = tmp_path / "v.json"
    f.write_text(content)
    assert_clean_failure(run_tool("dydx-offline", "selftest", "--vectors", f), fragment)


def test_derive_from_keystore_writes_public_files_and_a_0600_vault(tmp_path, keystore, secrets_dir) -> None:
    ks, pw, address = keystore
    vp = write_secret(secrets_dir / "vp", "vault pass")
    out = tmp_path / "out"
    r = run_tool(
        "dydx-offline",
        "derive",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--vault-password-file",
        vp,
    )
    assert r.code == 0, r
    files = sorted(p.name for p in out.iterdir())
    assert files == ["public-1-0000.json", "vault.dydx-vault"]
    assert stat.S_IMODE((out / "vault.dydx-vault").stat().st_mode) == 0o600
    payload = decode_payload((out / "public-1-0000.json").read_bytes())
    v = kit_vectors()[4]
    assert payload.address == address == v["ethereum_address"]
    assert int(payload.body["stark_public_key"], 16) == int(v["stark_public_key"], 16)
    assert int(payload.body["stark_public_key_y"], 16) == int(v["stark_public_key_y_coordinate"], 16)
    assert payload.fingerprint in r.out
    vault = read_vault(out / "vault.dydx-vault", Secret("vault pass"))
    entry = vault["accounts"][0]
    assert int(entry["stark_private_key"], 16) == int(v["stark_private_key"], 16)
    assert entry["api_key"] == v["api_key"]
    # Nothing secret in the public file or on stdout.
    public = (out / "public-1-0000.json").read_text() + r.out
    for secret in (
        v["stark_private_key"][2:].lstrip("0"),
        v["api_key"]["secret"],
        v["api_key"]["passphrase"],
        v["eth_private_key"][2:],
        v["stark_key_signature"][2:],
        v["onboarding_signature"][2:],
    ):
        assert secret not in public


def test_derive_many_accounts_from_a_mnemonic_json(tmp_path, secrets_dir) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    vp = write_secret(secrets_dir / "vp", "vault pass")
    r = run_tool(
        "dydx-offline",
        "derive",
        "--mnemonic-file",
        mn,
        "--network",
        "sepolia",
        "--accounts",
        "0-2,5",
        "--out",
        tmp_path / "o",
        "--vault-password-file",
        vp,
        "--json",
    )
    assert r.code == 0, r
    records = json.loads(r.out)
    assert [rec["body"]["account"] for rec in records] == [0, 1, 2, 5]
    assert records[0]["address"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # well-known test mnemonic
    assert records[3]["body"]["derivation_path"] == "m/44'/60'/0'/0/5"
    assert len({rec["body"]["stark_public_key"] for rec in records}) == 4
    assert all(rec["network_id"] == 11155111 for rec in records)


def test_keygen_then_derive(tmp_path, secrets_dir) -> None:
    pw = write_secret(secrets_dir / "pw", "a long keystore password")
    vp = write_secret(secrets_dir / "vp", "vault pass")
    old = os.umask(0)
    try:
        r = run_tool(
            "dydx-offline",
            "keygen",
            "--out",
            tmp_path / "k.json",
            "--password-file",
            pw,
            "--mnemonic-out",
            tmp_path / "m.txt",
            "--json",
        )
    finally:
        os.umask(old)
    assert r.code == 0, r
    address = json.loads(r.out)["address"]
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "m.txt").stat().st_mode) == 0o600
    words = (tmp_path / "m.txt").read_text().split()
    assert len(words) == 24
    assert not any(w in r.out + r.err for w in words[:3] if len(w) > 4)
    r2 = run_tool(
        "dydx-offline",
        "derive",
        "--keystore",
        tmp_path / "k.json",
        "--password-file",
        pw,
        "--network",
        "5",
        "--out",
        tmp_path / "o",
        "--vault-password-file",
        vp,
        "--json",
    )
    assert r2.code == 0, r2
    assert json.loads(r2.out)[0]["address"] == address
    # The mnemonic gives the same key (m/44'/60'/0'/0/0).
    r3 = run_tool(
        "dydx-offline",
        "derive",
        "--mnemonic-file",
        tmp_path / "m.txt",
        "--network",
        "5",
        "--out",
        tmp_path / "o2",
        "--vault-password-file",
        vp,
        "--json",
    )
    assert (
        json.loads(r3.out)[0]["body"]["stark_public_key"] == json.loads(r2.out)[0]["body"]["stark_public_key"]
    )


def test_keygen_without_terminal_or_mnemonic_out_fails_cleanly(tmp_path, secrets_dir) -> None:
    pw = write_secret(secrets_dir / "pw", "a long keystore password")
    r = run_tool("dydx-offline", "keygen", "--out", tmp_path / "k.json", "--password-file", pw)
    assert_clean_failure(r, "--mnemonic-out")
    assert not (tmp_path / "k.json").exists()


def _derive(tmp_path: Path, *args) -> tuple:
    out = tmp_path / "out"
    return run_tool("dydx-offline", "derive", "--network", "1", "--out", out, *args), out


def test_wrong_keystore_password(tmp_path, keystore, secrets_dir) -> None:
    ks, _, _ = keystore
    bad = write_secret(secrets_dir / "bad", "not the password")
    vp = write_secret(secrets_dir / "vp", "v")
    r, out = _derive(tmp_path, "--keystore", ks, "--password-file", bad, "--vault-password-file", vp)
    assert_clean_failure(r, "wrong password")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("mnemonic", "fragment"),
    [
        ("test test test test test test test test test test test test", "checksum"),
        ("test test test test test test test test test test junk", "12, 15, 18, 21 or 24 words"),
        ("test test test test test test test test test test test zzzz", "not BIP-39"),
    ],
)
def test_malformed_mnemonic(tmp_path, secrets_dir, mnemonic: str, fragment: str) -> None:
    mn = write_secret(secrets_dir / "mn", mnemonic)
    r, out = _derive(tmp_path, "--mnemonic-file", mn)
    assert_clean_failure(r, fragment)
    assert not out.exists()


def test_unknown_network_unreadable_file_and_wrong_format_key(tmp_path, secrets_dir) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    r = run_tool("dydx-offline", "derive", "--mnemonic-file", mn, "--network", "42", "--out", tmp_path / "o")
    assert_clean_failure(r, "unknown network")
    r, _ = _derive(tmp_path, "--keystore", tmp_path / "missing.json", "--password-file", mn)
    assert_clean_failure(r, "no such file")
    notkey = write_secret(secrets_dir / "notkey.json", '{"hello": "world"}')
    r, _ = _derive(tmp_path, "--keystore", notkey, "--password-file", mn)
    assert_clean_failure(r, "not an Ethereum V3 keystore")
    garbage = write_secret(secrets_dir / "garbage", "\x00\x01 not json")
    r, _ = _derive(tmp_path, "--keystore", garbage, "--password-file", mn)
    assert_clean_failure(r, "not a JSON keystore")


def test_world_readable_secret_file_is_refused(tmp_path, secrets_dir) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    os.chmod(mn, 0o644)
    r, _ = _derive(tmp_path, "--mnemonic-file", mn)
    assert_clean_failure(r, "chmod 600")


def test_no_terminal_and_no_password_file(tmp_path, keystore) -> None:
    ks, _, _ = keystore
    r, _ = _derive(tmp_path, "--keystore", ks)
    assert_clean_failure(r, "--password-file")


@pytest.mark.parametrize(
    "args",
    [
        ["--password", "hunter2"],
        ["--password=hunter2"],
        ["--private-key", "0x" + "11" * 32],
        ["--mnemonic", TEST_MNEMONIC],
        ["0x" + "4f" * 32],
        TEST_MNEMONIC.split(),
    ],
)
def test_secrets_on_the_command_line_are_refused(tmp_path, args) -> None:
    r, out = _derive(tmp_path, *args)
    assert_clean_failure(r)
    assert r.code == 2
    assert "never" in r.err or "looks like" in r.err
    assert "hunter2" not in r.err and "4f4f4f4f" not in r.err
    assert not out.exists()


def _vault_accounts(out: Path, passphrase: str) -> list[tuple[int, int, str]]:
    from dydx_airgap.offline.keys.vault import read_vault
    from dydx_airgap.shared.secret import Secret

    contents = read_vault(out / "vault.dydx-vault", Secret(passphrase))
    return sorted((e["network_id"], e["account"], e["key_variant"]) for e in contents["accounts"])


def test_derive_adds_networks_and_accounts_to_an_existing_vault(tmp_path, secrets_dir) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    vp = write_secret(secrets_dir / "vp", "vault pass")
    r, out = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "0-1")
    assert r.code == 0, r
    r = run_tool("dydx-offline", "derive", "--network", "sepolia", "--out", out, "--mnemonic-file", mn,
                 "--vault-password-file", vp, "--accounts", "1-2")  # fmt: skip
    assert r.code == 0, r
    r, _ = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "1")
    assert r.code == 0, r  # already there: re-derived, identical, kept
    assert _vault_accounts(out, "vault pass") == [
        (1, 0, "web-app"),
        (1, 1, "web-app"),
        (11155111, 1, "web-app"),
        (11155111, 2, "web-app"),
    ]
    assert {p.name for p in out.glob("public-*.json")} == {
        "public-1-0000.json",
        "public-1-0001.json",
        "public-11155111-0001.json",
        "public-11155111-0002.json",
    }


def test_derive_refuses_a_conflicting_entry_and_changes_nothing(tmp_path, secrets_dir, keystore) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    vp = write_secret(secrets_dir / "vp", "vault pass")
    r, out = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "0-1")
    assert r.code == 0, r
    before = (out / "vault.dydx-vault").read_bytes()
    r, _ = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "1",
                   "--variant", "v-rotated")  # fmt: skip
    assert_clean_failure(
        r, "already holds account 1 on network 1 with a different", "key variant", "--overwrite"
    )
    assert (out / "vault.dydx-vault").read_bytes() == before
    ks, pw, _ = keystore
    r, _ = _derive(tmp_path, "--keystore", ks, "--password-file", pw, "--vault-password-file", vp)
    assert_clean_failure(r, "holds account 0 of another key", "one vault per key source")
    assert (out / "vault.dydx-vault").read_bytes() == before
    r, _ = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "1",
                   "--variant", "v-rotated", "--overwrite")  # fmt: skip
    assert r.code == 0, r
    assert _vault_accounts(out, "vault pass") == [(1, 1, "v-rotated")]


def test_path_works_with_a_single_account_in_derive(tmp_path, secrets_dir) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    vp = write_secret(secrets_dir / "vp", "vault pass")
    r, out = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "3",
                     "--path", "m/44'/60'/1'/0/0")  # fmt: skip
    assert r.code == 0, r
    body = json.loads((out / "public-1-0003.json").read_text())["body"]
    assert body["derivation_path"] == "m/44'/60'/1'/0/0"
    r, _ = _derive(tmp_path, "--mnemonic-file", mn, "--vault-password-file", vp, "--accounts", "0-1",
                   "--path", "m/44'/60'/1'/0/0")  # fmt: skip
    assert_clean_failure(r, "--path names one key", "--accounts N")


@pytest.mark.parametrize("candidate", [0, 1, 2, 3])
def test_recover_finds_each_web_app_candidate(tmp_path, secrets_dir, candidate: int) -> None:
    from eth_account import Account

    v = kit_vectors()[4]
    ks = secrets_dir / "k.json"
    write_secret(ks, json.dumps(Account.encrypt(v["eth_private_key"], "pw", kdf="pbkdf2", iterations=1000)))
    pw = write_secret(secrets_dir / "pw", "pw")
    target = v["stark_key_candidates"][candidate]["stark_public_key"]
    r = run_tool(
        "dydx-offline",
        "recover",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        str(v["network_id"]),
        "--match",
        target,
        "--json",
    )
    assert r.code == 0, r
    report = json.loads(r.out)
    labels = ["web-app", "v-rotated", "type-rotated", "both-rotated"]
    assert [m["variant"] for m in report["matches"]] == [labels[candidate]]
    assert report["matches"][0]["how"] == "exact"
    assert report["not_found"] == []


def test_recover_finds_dydx3_leading_zero_variant_and_reports_no_match(tmp_path, secrets_dir) -> None:
    from eth_account import Account

    v = next(x for x in kit_vectors() if x["name"].startswith("leading-zero/"))
    ks = secrets_dir / "k.json"
    write_secret(ks, json.dumps(Account.encrypt(v["eth_private_key"], "pw", kdf="pbkdf2", iterations=1000)))
    pw = write_secret(secrets_dir / "pw", "pw")
    from dydx_airgap.offline.keys.cold_key import stark_key_pair

    dydx3_public = stark_key_pair(int(v["dydx3_python_stark_private_key"], 16)).public_key
    r = run_tool(
        "dydx-offline",
        "recover",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        str(v["network_id"]),
        "--match",
        hex(dydx3_public),
    )
    assert r.code == 0, r
    assert "variant dydx3-python" in r.out and "--variant dydx3-python" in r.out
    r = run_tool(
        "dydx-offline",
        "recover",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        str(v["network_id"]),
        "--match",
        "0x12345678",
    )
    assert_clean_failure(r, "1 of 1 STARK key(s) not found")


def test_help_does_not_import_eth_account() -> None:
    code = (
        "import sys; from dydx_airgap.offline.cli import main\n"
        "rc = main(['--help'])\n"
        "assert 'eth_account' not in sys.modules, 'eth_account imported by --help'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "derive" in proc.stdout and "selftest" in proc.stdout


def test_two_machines_deriving_one_key_show_one_key_fingerprint_and_two_payload_fingerprints(
    tmp_path, secrets_dir
) -> None:
    mn = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    vp = write_secret(secrets_dir / "vp", "vault pass")
    shown = []
    for machine in ("cold-a", "cold-b"):
        r = run_tool(
            "dydx-offline",
            "derive",
            "--mnemonic-file",
            mn,
            "--network",
            "1",
            "--out",
            tmp_path / machine,
            "--vault-password-file",
            vp,
        )
        assert r.code == 0, r
        (line,) = [line for line in r.out.splitlines() if line.startswith("account 0:")]
        key = line.split("key fingerprint ")[1].split()[0]
        payload = line.split("payload fingerprint ")[1].split()[0]
        shown.append((key, payload))
    (key_a, payload_a), (key_b, payload_b) = shown
    assert key_a == key_b and payload_a != payload_b
    assert len(key_a) == 14 and len(payload_a) == 9  # xxxx-xxxx-xxxx beside xxxx-xxxx: not confusable
    # The relay shows the same key fingerprint when it imports the file.
    imported = run_tool(
        "dydx-relay",
        "import",
        "--file",
        tmp_path / "cold-a" / "public-1-0000.json",
        "--out",
        tmp_path / "in.json",
        "--json",
    )
    assert imported.code == 0, imported
    assert json.loads(imported.out)["key_fingerprint"] == key_a


def test_the_key_fingerprint_changes_with_each_thing_it_names() -> None:
    from dydx_airgap.shared.transport.payload import key_fingerprint_of

    address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    stark = "0x" + "ab" * 32
    base = key_fingerprint_of(1, address, stark)
    assert key_fingerprint_of(1, address.lower(), stark.upper().replace("0X", "0x")) == base  # spelling only
    assert key_fingerprint_of(11155111, address, stark) != base
    assert key_fingerprint_of(1, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", stark) != base
    assert key_fingerprint_of(1, address, "0x" + "ab" * 31 + "ac") != base
