"""Finding 5: weak or hostile key material is refused — one passphrase rule for keystore and vault, and a
keystore's KDF cost bounded (time and memory) before its password is tried."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.conftest import TEST_MNEMONIC, assert_clean_failure, kit_vectors, run_tool, write_secret


def test_vault_passphrase_follows_the_keystore_rule(tmp_path: Path, figure) -> None:
    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    weak = ["x", "1234567", "        ", "ab\u0301cdef"]  # the last is 6 letters + a combining accent
    refused = 0
    for i, passphrase in enumerate(weak):
        out = tmp_path / f"derived{i}"
        r = run_tool(
            "dydx-offline", "derive", "--mnemonic-file", mnemonic, "--network", "31337", "--out", out,
            "--vault-password-file", write_secret(tmp_path / f"vp{i}", passphrase),
        )  # fmt: skip
        written = out.exists() and any(out.iterdir())
        if r.code != 0 and not written and ("at least 8" in r.err or "only spaces" in r.err):
            assert_clean_failure(r)
            refused += 1
    figure(
        f"keys: vault passphrases under the keystore's 8-character rule refused in {refused} of {len(weak)}"
    )
    assert refused == len(weak)
    r = run_tool(
        "dydx-offline", "keygen", "--out", tmp_path / "k.json",
        "--password-file", write_secret(tmp_path / "kp", "1234567"),
    )  # fmt: skip
    assert_clean_failure(r, "at least 8")


def _hostile_keystore(tmp_path: Path, name: str, kdf: str, **params: int) -> Path:
    from eth_account import Account

    v = kit_vectors()[4]
    if kdf == "pbkdf2":
        data = Account.encrypt(v["eth_private_key"], "pass-word-1", kdf="pbkdf2", iterations=1000)
    else:
        data = Account.encrypt(v["eth_private_key"], "pass-word-1", kdf="scrypt")
    data["crypto"]["kdfparams"].update(params)
    return write_secret(tmp_path / f"{name}.json", json.dumps(data))


def test_hostile_keystore_kdf_parameters_are_refused_before_the_password_is_tried(
    tmp_path: Path, figure
) -> None:
    pw = write_secret(tmp_path / "pw", "pass-word-1")
    hostile = {
        "pbkdf2 c=2^31-1": _hostile_keystore(tmp_path, "c", "pbkdf2", c=2**31 - 1),
        "scrypt p=2^20": _hostile_keystore(tmp_path, "p", "scrypt", p=2**20),
        "scrypt n=2^22": _hostile_keystore(tmp_path, "n", "scrypt", n=2**22),
        "scrypt n not a power of two": _hostile_keystore(tmp_path, "odd", "scrypt", n=3 * 2**10),
    }
    refused, slowest = 0, 0.0
    for ks in hostile.values():
        start = time.monotonic()
        try:
            r = run_tool(
                "dydx-offline", "sign", "recovery", "--keystore", ks, "--password-file", pw, "--network", "1",
                "--yes", "--out", tmp_path / "x.json", "--evidence-log", tmp_path / "log", timeout=15,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            slowest = max(slowest, time.monotonic() - start)
            continue
        slowest = max(slowest, time.monotonic() - start)
        if (
            r.code != 0
            and "keystore" in r.err
            and "Traceback" not in r.err
            and not (tmp_path / "x.json").exists()
        ):
            refused += 1
    figure(
        f"keys: hostile keystore KDF parameters refused in {refused} of {len(hostile)} "
        f"(slowest answer {slowest:.1f} s)"
    )
    assert refused == len(hostile) and slowest < 10
