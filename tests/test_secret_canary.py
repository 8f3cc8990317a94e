"""Secret canary (kit spec/security.md §2 check 1): for generated key sets, run every command of every flow —
failing ones, --json and plain output included — and scan every output file, payload, stdout/stderr line,
evidence log and relay journal for every secret, in every encoding: 0 hits.

Secrets are computed here independently of our code (eth-account signs the derivation messages), so a leak
through any of our paths shows up. make test runs a few key sets; make fuzz runs 200.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pyrage
import pytest
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.hdaccount.mnemonic import Mnemonic

from dydx_airgap.offline.cli import main as cold_main
from dydx_airgap.online.cli import main as relay_main
from dydx_airgap.online.rehearsal.v3_api import start_local_api
from dydx_airgap.shared.dydx_v3.derivation import api_credentials_from_onboarding_signature
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    onboarding_action_message,
    typed_data,
)
from dydx_airgap.shared.ethereum.keccak import keccak256

from .conftest import write_secret

KEY_SETS = int(os.environ.get("DYDX_AIRGAP_CANARY_SETS", "6"))
CHAIN = 31337


def run(main, args: Iterable[object], cwd: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        os.chdir(old)
    return code, out.getvalue() + err.getvalue()


def encodings(secret: bytes) -> set[bytes]:
    """Every spelling of a secret we look for, including every 16-byte window of the longer ones."""
    forms = {secret}
    hexed = secret.hex()
    for text in (hexed, hexed.upper(), "0x" + hexed, str(int.from_bytes(secret, "big"))):
        forms.add(text.encode())
    for b64 in (base64.b64encode(secret), base64.urlsafe_b64encode(secret)):
        forms.add(b64)
        forms.add(b64.rstrip(b"="))
    if len(secret) > 16:
        for i in range(len(secret) - 15):
            window = secret[i : i + 16]
            forms.update({window, window.hex().encode(), window.hex().upper().encode()})
    # Short decimal renderings of small integers would match by chance; keep only distinctive forms.
    return {f for f in forms if len(f) >= 16}


class KeySet:
    def __init__(self) -> None:
        self.mnemonic = Mnemonic().to_mnemonic(secrets.token_bytes(16))
        seed = seed_from_mnemonic(self.mnemonic, "")
        self.keys = [bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{i}")) for i in range(2)]
        self.address = Account.from_key(self.keys[0]).address
        self.vault_pass = "vault " + secrets.token_hex(12)
        self.keystore_pass = "keystore " + secrets.token_hex(12)
        self.secret_values: dict[str, bytes] = {}
        for i, key in enumerate(self.keys):
            self.secret_values[f"eth key {i}"] = key
            for chain in (CHAIN, 1):
                stark_sig = self._typed(key, chain, STARK_KEY_ACTION)
                onboarding_sig = self._typed(key, chain, ONBOARDING_ACTION)
                self.secret_values[f"stark-key signature {i}/{chain}"] = stark_sig
                stark_private = int.from_bytes(keccak256(stark_sig), "big") >> 5
                self.secret_values[f"stark private key {i}/{chain}"] = stark_private.to_bytes(32, "big")
                creds = api_credentials_from_onboarding_signature(onboarding_sig)
                self.secret_values[f"api secret {i}/{chain}"] = base64.urlsafe_b64decode(
                    creds.secret.reveal()
                )
                self.secret_values[f"api passphrase {i}/{chain}"] = creds.passphrase.reveal().encode()
                self.secret_values[f"onboarding signature {i}/{chain}"] = onboarding_sig
        self.secret_values["vault passphrase"] = self.vault_pass.encode()
        self.secret_values["keystore password"] = self.keystore_pass.encode()

    @staticmethod
    def _typed(key: bytes, chain: int, action: str) -> bytes:
        signed = Account.sign_typed_data(
            key, full_message=typed_data(chain, onboarding_action_message(chain, action))
        )
        return bytes(signed.signature) + b"\x00"

    def patterns(self, allow_onboarding: bool) -> list[tuple[str, bytes]]:
        found = []
        for name, value in self.secret_values.items():
            if allow_onboarding and name.startswith("onboarding signature"):
                continue
            found += [(name, form) for form in encodings(value)]
        words = self.mnemonic.split()
        found += [("mnemonic", " ".join(words[i : i + 4]).encode()) for i in range(len(words) - 3)]
        return found


def age_decrypt(sealed: Path, identity: Path) -> bytes:
    """`age -d -i`, the trading host's tool; pyrage only when age is not installed."""
    if shutil.which("age"):
        done = subprocess.run(
            ["age", "-d", "-i", str(identity), str(sealed)], capture_output=True, check=True
        )
        return done.stdout
    return pyrage.decrypt(
        sealed.read_bytes(), [pyrage.x25519.Identity.from_str(identity.read_text().strip())]
    )


def scan(label: str, data: bytes, patterns: list[tuple[str, bytes]], hits: list[str]) -> None:
    for name, form in patterns:
        if form in data:
            hits.append(f"{name} in {label}")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with start_local_api(db=tmp_path_factory.mktemp("api") / "api.sqlite3", chain_id=CHAIN) as handle:
        yield handle


def test_no_secret_reaches_any_output(tmp_path: Path, api, figure) -> None:
    total_outputs = 0
    hits: list[str] = []
    for n in range(KEY_SETS):
        ks = KeySet()
        root = tmp_path / f"set{n}"
        cold, online = root / "cold", root / "online"
        for d in (cold, online):
            d.mkdir(parents=True)
        sec = root / "secrets"
        sec.mkdir(mode=0o700)
        mn = write_secret(sec / "mnemonic", ks.mnemonic)
        vp = write_secret(sec / "vault", ks.vault_pass)
        kp = write_secret(sec / "keystore-pass", ks.keystore_pass)
        wrong = write_secret(sec / "wrong", "not the password")
        keystore = sec / "key.json"
        write_secret(
            keystore, json.dumps(Account.encrypt(ks.keys[0], ks.keystore_pass, kdf="pbkdf2", iterations=1000))
        )
        # The trading host's age key (its private half stays with the secrets' own stores, unscanned).
        identity = pyrage.x25519.Identity.generate()
        age_key = write_secret(sec / "age-key.txt", str(identity))
        recipient = str(identity.to_public())
        mk = ("--mnemonic-file", mn)
        ksrc = ("--keystore", keystore, "--password-file", kp)
        net = ("--network", CHAIN)
        outputs: list[tuple[str, str]] = []
        handoff = ["handoff", "--to", recipient, "--vault", "d", "--vault-password-file", vp, *mk, *net]
        cold_steps = [
            ["derive", *mk, *net, "--accounts", "0-1", "--out", "d", "--vault-password-file", vp, "--json"],
            ["derive", *mk, *net, "--accounts", "0-1", "--out", "d", "--vault-password-file", vp],  # exists
            ["derive", *ksrc, "--network", "1", "--out", "d1", "--vault-password-file", vp],
            [
                "derive",
                "--keystore",
                keystore,
                "--password-file",
                wrong,
                *net,
                "--out",
                "x",
            ],  # wrong password
            ["derive", *mk, "--network", "99", "--out", "x"],  # unknown network
            ["recover", *mk, *net, "--match", "0x1234", "--json"],  # no match
            ["sign", "onboarding", *mk, *net, "--out", "onboarding.json", "--yes", "--json"],
            ["sign", "onboarding", *ksrc, "--network", "1", "--out", "onboarding-1.json", "--yes"],
            ["sign", "api-key", "create", *mk, *net, "--out", "ak.json", "--yes", "--ladder-minutes", "2"],
            ["sign", "recovery", *mk, *net, "--out", "rec.json", "--yes", "--json"],
            ["sign", "recovery", *mk, *net, "--out", "rec.json", "--yes"],  # exists
            ["sign", "api-key", "delete", *mk, *net, "--key", "nonsense", "--out", "del.json", "--yes"],
            ["export", "onboarding.json", "--qr-dir", "qr", "--json"],
            ["doctor", "--skip-dns", "--allow-online", "--json"],
            ["evidence", "bundle", *mk, *net, "--from", ".", "--out", "bundle", "--json"],
            ["derive", *mk, *net, "--private-key", ks.keys[0].hex(), "--out", "x"],  # refused on argv
            [*handoff, "--accounts", "0-1", "--out", "sealed.json", "--yes", "--json"],
            [*handoff, "--out", "sealed.json", "--yes"],  # exists
            [*handoff, "--accounts", "0-5", "--out", "sealed-more.json", "--yes"],  # not in the vault
            [
                *handoff[:2],
                "age1" + "q" * 58,
                *handoff[3:],
                "--out",
                "sealed-bad.json",
                "--yes",
            ],  # bad recipient
        ]
        for step in cold_steps:
            code, text = run(cold_main, step, cold)
            outputs.append((f"dydx-offline {step[0]}", text))
        public = json.loads((cold / "d" / f"public-{CHAIN}-0000.json").read_text())
        stark_x = public["body"]["stark_public_key"]
        default_key = public["body"]["api_key"]
        code, text = run(cold_main, ["recover", *mk, *net, "--match", stark_x], cold)
        assert code == 0, text
        outputs.append(("dydx-offline recover", text))
        relay_steps = [
            ["import", "--images", cold / "qr", "--out", "onboarding.json", "--json"],
            ["submit", "onboarding.json", "--api", api.url, *net, "--state", "state", "--json"],
            ["submit", "onboarding.json", "--api", api.url, *net, "--state", "state"],  # replay
            ["submit", cold / "ak.json", "--api", api.url, *net, "--state", "state"],
            ["api-keys", "list", "--api", api.url, "--address", ks.address, "--state", "state", "--json"],
            ["api-keys", "list", "--api", api.url, "--address", ks.address, "--state", "state"],
            ["account", "--api", api.url, "--address", ks.address, "--state", "state"],
            [
                "api-keys",
                "export",
                default_key,
                "--to",
                recipient,
                "--out",
                "bot-key.age",
                "--state",
                "state",
            ],
            [
                "api-keys",
                "export",
                default_key,
                "--to",
                recipient,
                "--out",
                "bot-key.age",
                "--state",
                "state",
            ],
            ["api-keys", "export", "0" * 8, "--to", recipient, "--out", "none.age", "--state", "state"],
            [
                "submit",
                cold / "rec.json",
                "--api",
                api.url,
                "--network",
                "1",
                "--state",
                "state",
            ],  # wrong net
            ["time", "--api", api.url, *net, "--out", "time.json"],
            ["init-evidence-key", "--state", "state"],
            ["evidence", "add-receipts", cold / "bundle", "--state", "state"],
            ["evidence", "pack", cold / "bundle", "--out", "bundle.tar"],
        ]
        for step in relay_steps:
            code, text = run(relay_main, step, online)
            outputs.append((f"dydx-relay {step[0]}", text))
        assert (online / "state" / "api-credentials.json").exists()
        assert stat.S_IMODE((online / "state" / "api-credentials.json").stat().st_mode) == 0o600

        strict = ks.patterns(allow_onboarding=False)
        lenient = ks.patterns(allow_onboarding=True)
        for label, text in outputs:
            scan(label, text.encode(), strict, hits)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if path.parent == sec or path.name in ("vault.dydx-vault", "api-credentials.json"):
                continue  # the secrets' own stores: encrypted or 0600 by design
            data = path.read_bytes()
            # The onboarding signature may appear only inside onboarding payloads (dYdX's design).
            # (QR frames and an evidence archive carry the onboarding payload too.)
            is_onboarding = path.name.startswith("onboarding") or path.suffix in (".png", ".tar")
            scan(str(rel), data, lenient if is_onboarding else strict, hits)
            total_outputs += 1
        total_outputs += len(outputs)
        # Decrypted on purpose, the sealed files do hold the secrets: the scan above would have seen them.
        for sealed in (cold / "sealed.json.age", online / "bot-key.age"):
            opened: list[str] = []
            scan(f"{sealed.name} decrypted", age_decrypt(sealed, age_key), strict, opened)
            assert opened, sealed
        assert stat.S_IMODE((cold / "sealed.json").stat().st_mode) == 0o600
        # The scanner itself must see a planted leak, in each encoding family.
        planted = ks.secret_values["stark private key 0/31337"]
        for leak in (
            planted.hex().upper(),
            base64.urlsafe_b64encode(planted).decode(),
            str(int.from_bytes(planted, "big")),
        ):
            probe: list[str] = []
            scan("probe", f"log line {leak} end".encode(), strict, probe)
            assert probe, leak
    figure(
        f"secret canary: {KEY_SETS} key sets, {total_outputs} outputs scanned for "
        f"{len(KeySet().secret_values) + 1} secrets in hex/base64/base64url/decimal/raw/16-byte windows: "
        f"{len(hits)} hits"
    )
    assert hits == []
