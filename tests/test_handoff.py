"""The sealed handoff to the trading host, end to end with the real tools: derive → handoff → `age -d`, the
relay's api-keys export against the local API on 127.0.0.1, the refusals, and the audit trail.

The trading host's side is the standard age tool (`age-keygen`, `age -d -i key.txt`), as an operator would run
it; only if `age` is not installed do the tests decrypt with pyrage instead, and they say so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from dydx_airgap.online.rehearsal.v3_api import start_local_api
from dydx_airgap.shared.stark import private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.age_recipient import recipient_fingerprint
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret

CHAIN = 11155111  # the local API's default network
AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
SSH_KEYGEN = shutil.which("ssh-keygen")


# ---- the trading host's side: the standard tool --------------------------------------------------------


def make_age_identity(directory: Path) -> tuple[Path, str]:
    """(identity file, recipient), made as the trading host makes them: `age-keygen -o key.txt`."""
    identity = directory / "key.txt"
    if AGE_KEYGEN is not None:
        subprocess.run([AGE_KEYGEN, "-o", str(identity)], check=True, capture_output=True)
        recipient = subprocess.run(
            [AGE_KEYGEN, "-y", str(identity)], check=True, capture_output=True, text=True
        ).stdout.strip()
        return identity, recipient
    import pyrage  # fallback only: age-keygen is not installed (.ci/sysdeps.sh installs it)

    made = pyrage.x25519.Identity.generate()
    write_secret(identity, str(made))
    return identity, str(made.to_public())


def age_decrypt(sealed: Path, identity: Path) -> bytes:
    """`age -d -i IDENTITY FILE`, the trading host's one command; pyrage only when age is missing."""
    if AGE is not None:
        done = subprocess.run([AGE, "-d", "-i", str(identity), str(sealed)], capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout
    import pyrage

    print(
        "age is not installed: decrypting with pyrage instead of the standard tool (install: apt-get install age)"
    )
    text = identity.read_text()
    if "OPENSSH PRIVATE KEY" in text:
        ident: Any = pyrage.ssh.Identity.from_buffer(identity.read_bytes())
    else:
        line = next(x for x in text.splitlines() if x.startswith("AGE-SECRET-KEY-"))
        ident = pyrage.x25519.Identity.from_str(line)
    return pyrage.decrypt(sealed.read_bytes(), [ident])


@pytest.fixture
def cold(tmp_path: Path) -> dict[str, Any]:
    """A cold machine with a mnemonic and a vault of accounts 0-2 on the local API's network."""
    sec = tmp_path / "secrets"
    sec.mkdir(mode=0o700)
    mnemonic = write_secret(sec / "mnemonic", TEST_MNEMONIC)
    vault_pass = write_secret(sec / "vault-pass", "handoff vault passphrase")
    work = tmp_path / "cold"
    work.mkdir()
    done = run_tool(
        "dydx-offline",
        "derive",
        "--mnemonic-file",
        mnemonic,
        "--network",
        CHAIN,
        "--accounts",
        "0-2",
        "--out",
        work / "derived",
        "--vault-password-file",
        vault_pass,
        "--json",
    )
    assert done.code == 0, done.err
    trading = tmp_path / "trading"
    trading.mkdir(mode=0o700)
    identity, recipient = make_age_identity(trading)
    return {
        "dir": work,
        "secrets": sec,
        "keys": ("--mnemonic-file", mnemonic),
        "vault": ("--vault", work / "derived", "--vault-password-file", vault_pass),
        "vault_pass": vault_pass,
        "publics": json.loads(done.out),
        "identity": identity,
        "recipient": recipient,
        "trading": trading,
    }


def handoff(cold: dict[str, Any], *extra: object, to: str | None = None, accounts: str = "0") -> Any:
    return run_tool(
        "dydx-offline",
        "handoff",
        "--to",
        to or cold["recipient"],
        *cold["vault"],
        *cold["keys"],
        "--network",
        CHAIN,
        "--accounts",
        accounts,
        "--evidence-log",
        cold["dir"] / "evidence.jsonl",
        *extra,
    )


def vault_contents(cold: dict[str, Any]) -> dict[str, Any]:
    from dydx_airgap.offline.keys.vault import read_vault
    from dydx_airgap.shared.secret import Secret

    passphrase = Secret(cold["vault_pass"].read_text().rstrip("\n"))
    return read_vault(cold["dir"] / "derived" / "vault.dydx-vault", passphrase)


def test_round_trip_age_decrypts_the_vault_secrets_whose_stark_key_is_the_published_one(cold) -> None:
    out = cold["dir"] / "sealed.json"
    done = handoff(cold, "--out", out, "--yes", "--json", accounts="0,2")
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    age_file = Path(summary["age_file"])
    assert age_file == cold["dir"] / "sealed.json.age"
    for path in (out, age_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The review names the recipient's fingerprint, the trading host's command for it, and the warning.
    fingerprint = recipient_fingerprint(cold["recipient"])
    # What the trading host computes with `printf %s RECIPIENT | sha256sum`: its first 16 hex digits.
    digest = hashlib.sha256(cold["recipient"].encode()).hexdigest()
    assert fingerprint == "-".join(digest[i : i + 4] for i in range(0, 16, 4))
    assert fingerprint in done.err and "sha256sum" in done.err and "TRADE AND WITHDRAW" in done.err

    plaintext = json.loads(age_decrypt(age_file, cold["identity"]))
    payload = decode_payload(out.read_bytes())
    assert payload.kind == "sealed-credentials" and payload.body["recipient_fingerprint"] == fingerprint
    # The payload carries the very age file: `jq -r .body.age` gives the same bytes as OUT.age.
    assert payload.body["age"].encode() == age_file.read_bytes()

    publics = {p["body"]["account"]: p for p in cold["publics"]}
    stored = {e["account"]: e for e in vault_contents(cold)["accounts"]}
    assert [e["account"] for e in plaintext] == [0, 2]
    for entry in plaintext:
        public = publics[entry["account"]]
        x, y = private_key_to_ec_point_on_stark_curve(int(entry["stark_private_key"], 16))
        assert (x, y) == (
            int(public["body"]["stark_public_key"], 16),
            int(public["body"]["stark_public_key_y"], 16),
        )
        assert (entry["stark_public_key"], entry["stark_public_key_y_coordinate"]) == (hex(x), hex(y))
        assert entry["default_ethereum_address"] == public["address"]
        assert entry["network_id"] == CHAIN and entry["key_variant"] == "web-app"
        assert entry["api_key_credentials"] == stored[entry["account"]]["api_key"]
    # The evidence log records who got what, never the secret.
    log = [json.loads(line) for line in (cold["dir"] / "evidence.jsonl").read_text().splitlines()]
    assert log[-1]["event"] == "handoff"
    assert log[-1]["recipient_fingerprint"] == fingerprint
    assert [a["account"] for a in log[-1]["accounts"]] == [0, 2]
    assert log[-1]["payload_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    for entry in plaintext:
        for secret in (entry["stark_private_key"][2:], entry["api_key_credentials"]["secret"]):
            assert secret not in done.out + done.err
            assert secret not in (cold["dir"] / "evidence.jsonl").read_text()


@pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")
def test_round_trip_to_an_ssh_ed25519_key_from_a_file(cold) -> None:
    key = cold["trading"] / "id_ed25519"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "bot@trading", "-f", str(key)], check=True
    )
    out = cold["dir"] / "sealed-ssh.json"
    done = run_tool(
        "dydx-offline",
        "handoff",
        "--to-file",
        key.with_suffix(".pub"),
        *cold["vault"],
        *cold["keys"],
        "--network",
        CHAIN,
        "--out",
        out,
        "--yes",
        "--evidence-log",
        cold["dir"] / "evidence.jsonl",
    )
    assert done.code == 0, done.err
    canonical = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    assert recipient_fingerprint(canonical) in done.out
    plaintext = json.loads(age_decrypt(Path(str(out) + ".age"), key))
    assert plaintext[0]["api_key_credentials"] == vault_contents(cold)["accounts"][0]["api_key"]


def test_the_sealed_payload_crosses_as_qr_frames_and_stays_0600(cold, tmp_path: Path) -> None:
    out = cold["dir"] / "sealed.json"
    assert handoff(cold, "--out", out, "--yes").code == 0
    frames = tmp_path / "frames"
    exported = run_tool(
        "dydx-offline", "export", out, "--qr-dir", frames, "--evidence-log", cold["dir"] / "evidence.jsonl"
    )
    assert exported.code == 0, exported.err
    assert stat.S_IMODE(frames.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in frames.iterdir())
    imported = tmp_path / "relay-copy.json"
    done = run_tool("dydx-relay", "import", "--images", frames, "--out", imported)
    assert done.code == 0, done.err
    assert imported.read_bytes() == out.read_bytes()
    assert stat.S_IMODE(imported.stat().st_mode) == 0o600
    plaintext = json.loads(age_decrypt_text(decode_payload(imported.read_bytes()).body["age"], cold))
    assert plaintext[0]["account"] == 0


def age_decrypt_text(armored: str, cold: dict[str, Any]) -> bytes:
    path = cold["trading"] / "from-payload.age"
    path.write_text(armored)
    return age_decrypt(path, cold["identity"])


# ---- refusals: one line, non-zero, nothing written ------------------------------------------------------


def _nothing_written(cold: dict[str, Any], out: Path) -> None:
    assert not out.exists() and not Path(str(out) + ".age").exists()
    assert not (cold["dir"] / "evidence.jsonl").exists()


@pytest.mark.parametrize(
    ("recipient", "fragment"),
    [
        ("age1notarecipient", "not an age recipient"),
        ("age1" + "q" * 58, "not a valid age recipient"),  # the right shape, a wrong bech32 checksum
        ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "not an age recipient"),
        ("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "private key"),
    ],
)
def test_bad_recipient_is_refused_before_anything_is_asked_or_written(cold, recipient, fragment) -> None:
    out = cold["dir"] / "sealed.json"
    done = handoff(cold, "--out", out, "--yes", to=recipient)
    assert_clean_failure(done, fragment)
    assert "QQQQQQQQQQ" not in done.err  # a pasted private key is never echoed
    _nothing_written(cold, out)


def test_handoff_without_confirmation_is_refused(cold) -> None:
    out = cold["dir"] / "sealed.json"
    done = handoff(cold, "--out", out)  # no --yes, and no terminal to type the fingerprint on
    assert_clean_failure(done, "--yes")
    _nothing_written(cold, out)


def test_handoff_to_an_existing_out_is_refused(cold) -> None:
    out = cold["dir"] / "sealed.json"
    out.write_text("keep me")
    done = handoff(cold, "--out", out, "--yes")
    assert_clean_failure(done, "already exists")
    assert out.read_text() == "keep me" and not Path(str(out) + ".age").exists()
    existing_age = cold["dir"] / "other.json.age"
    existing_age.write_text("keep me too")
    done = handoff(cold, "--out", cold["dir"] / "other.json", "--yes")
    assert_clean_failure(done, "already exists")
    assert existing_age.read_text() == "keep me too" and not (cold["dir"] / "other.json").exists()


def test_handoff_of_an_account_not_in_the_vault_is_refused(cold) -> None:
    out = cold["dir"] / "sealed.json"
    done = handoff(cold, "--out", out, "--yes", accounts="1-3")
    assert_clean_failure(done, "not in the vault", "3")
    _nothing_written(cold, out)


def test_handoff_with_another_key_than_the_vaults_is_refused(cold) -> None:
    other = write_secret(
        cold["secrets"] / "other-mnemonic",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    )
    out = cold["dir"] / "sealed.json"
    done = run_tool(
        "dydx-offline",
        "handoff",
        "--to",
        cold["recipient"],
        *cold["vault"],
        "--mnemonic-file",
        other,
        "--network",
        CHAIN,
        "--out",
        out,
        "--yes",
        "--evidence-log",
        cold["dir"] / "evidence.jsonl",
    )
    assert_clean_failure(done, "another key")
    _nothing_written(cold, out)


# ---- the audit trail ------------------------------------------------------------------------------------


def test_dydx_audit_shows_the_handoff(cold, tmp_path: Path) -> None:
    log = cold["dir"] / "evidence.jsonl"
    signed = run_tool(
        "dydx-offline",
        "sign",
        "onboarding",
        *cold["keys"],
        "--network",
        CHAIN,
        "--out",
        cold["dir"] / "onboarding.json",
        "--yes",
        "--evidence-log",
        log,
    )
    assert signed.code == 0, signed.err
    assert handoff(cold, "--out", cold["dir"] / "sealed.json", "--yes").code == 0
    bundle = tmp_path / "bundle"
    built = run_tool(
        "dydx-offline",
        "evidence",
        "bundle",
        *cold["keys"],
        "--network",
        CHAIN,
        "--evidence-log",
        log,
        "--from",
        cold["dir"],
        "--out",
        bundle,
    )
    assert built.code == 0, built.err
    # The sealed payload is not an artefact of the bundle: the log's entry is the record, with no ciphertext.
    assert not any("sealed" in p.name for p in bundle.rglob("*"))
    verified = run_tool("dydx-audit", "verify", bundle, "--cold-only", "--unpinned")
    fingerprint = recipient_fingerprint(cold["recipient"])
    assert "handoff" in verified.out and fingerprint in verified.out, verified.out
    report = tmp_path / "report.html"
    done = run_tool("dydx-audit", "report", bundle, "--html", report, "--cold-only")
    assert report.exists(), done.err
    html = report.read_text()
    assert "sealed" in html and fingerprint in html


# ---- the relay's api-keys export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with start_local_api(db=tmp_path_factory.mktemp("api") / "api.sqlite3", chain_id=CHAIN) as handle:
        yield handle


def _hmac_get(url: str, path: str, creds: dict[str, str], address: str) -> httpx.Response:
    """dYdX's HMAC (spec dydx-v3.md §6), computed here with the standard library, not our code."""
    timestamp = iso_ms(now_utc())
    message = f"{timestamp}GET{path}".encode()
    digest = hmac.new(base64.urlsafe_b64decode(creds["secret"]), message, hashlib.sha256).digest()
    headers = {
        "DYDX-SIGNATURE": base64.urlsafe_b64encode(digest).decode(),
        "DYDX-API-KEY": creds["key"],
        "DYDX-TIMESTAMP": timestamp,
        "DYDX-PASSPHRASE": creds["passphrase"],
        "DYDX-ETHEREUM-ADDRESS": address,
    }
    return httpx.get(url + path, headers=headers, timeout=10)


def test_relay_api_keys_export_seals_a_created_key_that_then_authenticates(cold, api, tmp_path: Path) -> None:
    state = tmp_path / "state"
    onboarding = cold["dir"] / "onboarding.json"
    ladder = cold["dir"] / "api-key.json"
    for args in (
        ["sign", "onboarding", "--out", onboarding],
        ["sign", "api-key", "create", "--out", ladder, "--ladder-minutes", "2"],
    ):
        signed = run_tool(
            "dydx-offline",
            *args,
            *cold["keys"],
            "--network",
            CHAIN,
            "--yes",
            "--evidence-log",
            cold["dir"] / "evidence.jsonl",
        )
        assert signed.code == 0, signed.err
    outputs = []
    for payload in (onboarding, ladder):
        sent = run_tool(
            "dydx-relay", "submit", payload, "--api", api.url, "--network", CHAIN, "--state", state, "--json"
        )
        assert sent.code == 0, sent.err
        outputs.append(sent)
    created = json.loads(outputs[1].out)["details"]["created_key"]
    address = decode_payload(onboarding.read_bytes()).address

    age_file = tmp_path / "bot-key.age"
    exported = run_tool(
        "dydx-relay",
        "api-keys",
        "export",
        created,
        "--to",
        cold["recipient"],
        "--out",
        age_file,
        "--state",
        state,
    )
    assert exported.code == 0, exported.err
    assert stat.S_IMODE(age_file.stat().st_mode) == 0o600
    assert recipient_fingerprint(cold["recipient"]) in exported.out
    plaintext = json.loads(age_decrypt(age_file, cold["identity"]))
    stored = json.loads((state / "api-credentials.json").read_text())
    entry = next(k for k in stored["keys"] if k["key"] == created)
    creds = plaintext["api_key_credentials"]
    assert creds == {"key": entry["key"], "secret": entry["secret"], "passphrase": entry["passphrase"]}
    assert (plaintext["default_ethereum_address"], plaintext["network_id"]) == (address, CHAIN)
    for text in (exported.out, exported.err, *(o.out + o.err for o in outputs)):
        assert creds["secret"] not in text and creds["passphrase"] not in text
    # The handed-over credentials work for an HMAC-authenticated call, computed independently of our code.
    answer = _hmac_get(api.url, "/v3/api-keys", creds, address)
    assert answer.status_code == 200, answer.text
    assert created in answer.json()["apiKeys"]

    # Refusals: an unknown key, a bad recipient, an existing --out; nothing is written, nothing printed.
    unknown = run_tool(
        "dydx-relay",
        "api-keys",
        "export",
        "00000000-0000-0000-0000-000000000000",
        "--to",
        cold["recipient"],
        "--out",
        tmp_path / "x.age",
        "--state",
        state,
    )
    assert_clean_failure(unknown, "holds no API key")
    bad = run_tool(
        "dydx-relay",
        "api-keys",
        "export",
        created,
        "--to",
        "age1nope",
        "--out",
        tmp_path / "x.age",
        "--state",
        state,
    )
    assert_clean_failure(bad, "not an age recipient")
    again = run_tool(
        "dydx-relay",
        "api-keys",
        "export",
        created,
        "--to",
        cold["recipient"],
        "--out",
        age_file,
        "--state",
        state,
    )
    assert_clean_failure(again, "already exists")
    assert not (tmp_path / "x.age").exists()
    for result in (unknown, bad, again):
        assert creds["secret"] not in result.out + result.err


# ---- dYdX's own client uses the handed-over keys ---------------------------------------------------------


def test_dydx_v3_python_trades_and_withdraws_with_the_handed_over_keys(cold, tmp_path: Path) -> None:
    """dydx-v3-python 2.1.0, unchanged, loads the decrypted file; its STARK key is the registered one, it signs
    an order and a withdrawal that our STARK code verifies against that key, and its API credentials work."""
    from dydx_airgap.shared.stark.signature import verify
    from tests.online.test_local_api import dydx3_python

    python = dydx3_python()
    onboarding = cold["dir"] / "onboarding.json"
    signed = run_tool(
        "dydx-offline",
        "sign",
        "onboarding",
        *cold["keys"],
        "--network",
        CHAIN,
        "--out",
        onboarding,
        "--yes",
        "--evidence-log",
        cold["dir"] / "evidence.jsonl",
    )
    assert signed.code == 0, signed.err
    out = cold["dir"] / "sealed.json"
    assert handoff(cold, "--out", out, "--yes").code == 0
    plaintext_file = cold["trading"] / "credentials.json"  # where the trading host keeps it: 0700 folder
    plaintext_file.write_bytes(age_decrypt(Path(str(out) + ".age"), cold["identity"]))
    with start_local_api(tmp_path / "api.sqlite3", chain_id=CHAIN) as handle:
        # Our relay registers the STARK key our cold side derived: the key dYdX has on record is ours.
        sent = run_tool(
            "dydx-relay",
            "submit",
            onboarding,
            "--api",
            handle.url,
            "--network",
            CHAIN,
            "--state",
            tmp_path / "st",
        )
        assert sent.code == 0, sent.err
        result = subprocess.run(
            [
                python,
                str(Path(__file__).parent / "compat" / "dydx3_handoff_flow.py"),
                handle.url,
                plaintext_file,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    flow = json.loads(result.stdout)
    registered = int(flow["account"]["starkKey"], 16)
    public = next(p for p in cold["publics"] if p["body"]["account"] == 0)
    assert (
        int(flow["client_stark_public_key"], 16) == registered == int(public["body"]["stark_public_key"], 16)
    )
    entry = json.loads(plaintext_file.read_text())[0]
    assert flow["api_keys"] == {"apiKeys": [entry["api_key_credentials"]["key"]]}
    for name in ("order", "withdrawal"):
        signature = flow[name]["signature"]
        r, s = int(signature[:64], 16), int(signature[64:], 16)
        assert verify(int(flow[name]["hash"], 16), r, s, registered), name
        assert not verify(int(flow[name]["hash"], 16) ^ 1, r, s, registered), name


def test_the_operator_confirms_by_typing_the_recipient_fingerprint(cold) -> None:
    """On a real terminal: a wrong answer seals nothing; the recipient fingerprint's first group seals."""
    import re

    from tests.conftest import BIN
    from tests.offline.test_interactive import run_in_pty

    def args(out: Path) -> list[str]:
        return [
            str(BIN / "dydx-offline"),
            "handoff",
            "--to",
            cold["recipient"],
            *map(str, cold["vault"]),
            *map(str, cold["keys"]),
            "--network",
            str(CHAIN),
            "--out",
            str(out),
            "--evidence-log",
            str(cold["dir"] / "evidence.jsonl"),
        ]

    prompt = r"recipient fingerprint \((\w{4})-\w{4}-\w{4}-\w{4}\) to seal and write"
    refused = cold["dir"] / "refused.json"
    code, screen = run_in_pty(args(refused), [(prompt, "abcd")], cold["dir"])
    assert code == 1 and "not confirmed" in screen, screen
    assert not refused.exists() and not Path(str(refused) + ".age").exists()

    def typed(screen: str) -> str:
        match = re.search(prompt, screen)
        assert match is not None, screen
        return match.group(1)

    out = cold["dir"] / "sealed.json"
    code, screen = run_in_pty(args(out), [(prompt, typed)], cold["dir"])
    assert code == 0, screen
    assert typed(screen) == recipient_fingerprint(cold["recipient"])[:4]
    entry = json.loads((cold["dir"] / "evidence.jsonl").read_text().splitlines()[-1])
    assert entry["confirmation"] == "operator typed the recipient fingerprint"
    assert json.loads(age_decrypt(Path(str(out) + ".age"), cold["identity"]))[0]["account"] == 0


def test_a_non_default_variant_is_handed_over_with_its_own_key(cold, tmp_path: Path) -> None:
    """An account registered with another wallet variant: the vault records the variant, and the handoff
    seals that variant's STARK key (the one published), saying which variant it is."""
    derived = tmp_path / "derived-v"
    done = run_tool(
        "dydx-offline",
        "derive",
        *cold["keys"],
        "--network",
        CHAIN,
        "--variant",
        "v-rotated",
        "--out",
        derived,
        "--vault-password-file",
        cold["vault_pass"],
        "--json",
    )
    assert done.code == 0, done.err
    public = json.loads(done.out)[0]
    out = tmp_path / "sealed-v.json"
    sealed = run_tool(
        "dydx-offline",
        "handoff",
        "--to",
        cold["recipient"],
        "--vault",
        derived,
        "--vault-password-file",
        cold["vault_pass"],
        *cold["keys"],
        "--network",
        CHAIN,
        "--out",
        out,
        "--yes",
        "--evidence-log",
        tmp_path / "evidence.jsonl",
    )
    assert sealed.code == 0, sealed.err
    assert "variant v-rotated" in sealed.out
    entry = json.loads(age_decrypt(Path(str(out) + ".age"), cold["identity"]))[0]
    assert entry["key_variant"] == "v-rotated" == public["body"]["key_variant"]
    x, _ = private_key_to_ec_point_on_stark_curve(int(entry["stark_private_key"], 16))
    assert x == int(public["body"]["stark_public_key"], 16)
    assert decode_payload(out.read_bytes()).body["accounts"][0]["key_variant"] == "v-rotated"
