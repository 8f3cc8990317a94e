"""The interactive paths, through a real pseudo-terminal: passphrase prompts without echo, and the
operator confirming a signature by typing the fingerprint shown on the screen (or refusing to)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path

from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import BIN, kit_vectors, write_secret

Answer = Callable[[str], str]


def run_in_pty(
    args: list[str], answers: list[tuple[str, str | Answer]], cwd: Path, timeout: float = 60
) -> tuple[int | None, str]:
    """Run a command on a new terminal; when the screen matches answers[i][0], type answers[i][1] (a text,
    or a function of the screen so far). Returns (exit code or None if it had to be killed, screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.chdir(cwd)
        os.execv(args[0], args)
    output = b""
    pending = list(answers)
    seen = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        text = output.decode(errors="replace")
        if pending and re.search(pending[0][0], text[seen:]):
            reply = pending.pop(0)[1]
            os.write(fd, ((reply(text) if callable(reply) else reply) + "\n").encode())
            seen = len(text)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
        return None, output.decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def shown_fingerprint_group(screen: str) -> str:
    match = re.search(r"fingerprint \((\w{4})-\w{4}\) to sign", screen)
    assert match is not None, screen
    return match.group(1)


def keystore(tmp_path: Path) -> Path:
    from eth_account import Account

    path = tmp_path / "key.json"
    data = Account.encrypt(
        kit_vectors()[4]["eth_private_key"], "typed-password", kdf="pbkdf2", iterations=1000
    )
    write_secret(path, json.dumps(data))
    return path


def test_prompted_password_and_typed_fingerprint_sign(tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    code, screen = run_in_pty(
        [
            str(BIN / "dydx-offline"),
            "sign",
            "recovery",
            "--keystore",
            str(keystore(tmp_path)),
            "--network",
            "1",
            "--out",
            str(out),
            "--evidence-log",
            str(tmp_path / "log"),
        ],
        [
            ("Keystore password: ", "typed-password"),
            ("to sign, anything else to stop: ", shown_fingerprint_group),
        ],
        tmp_path,
    )
    assert code == 0, screen
    assert "typed-password" not in screen  # the password was not echoed
    payload = decode_payload(out.read_bytes())
    entry = json.loads((tmp_path / "log").read_text().splitlines()[-1])
    assert entry["confirmation"] == "operator typed the fingerprint"
    assert entry["payload_sha256"] == payload.digest.hex()


def test_a_wrong_answer_or_no_answer_signs_nothing(tmp_path: Path) -> None:
    pw = write_secret(tmp_path / "pw", "typed-password")
    args = [
        str(BIN / "dydx-offline"),
        "sign",
        "api-key",
        "create",
        "--keystore",
        str(keystore(tmp_path)),
        "--password-file",
        str(pw),
        "--network",
        "1",
        "--ladder-minutes",
        "1",
        "--evidence-log",
        str(tmp_path / "log"),
    ]
    wrong = tmp_path / "wrong.json"
    code, screen = run_in_pty(
        [*args, "--out", str(wrong)], [("to sign, anything else to stop: ", "nope")], tmp_path
    )
    assert code == 1, screen
    assert "not confirmed; nothing was signed or written" in screen
    silent = tmp_path / "silent.json"
    code, screen = run_in_pty([*args, "--out", str(silent)], [], tmp_path, timeout=3)
    assert code is None  # still waiting for the operator when we gave up
    assert not wrong.exists() and not silent.exists() and not (tmp_path / "log").exists()


def test_mnemonic_and_vault_passphrase_prompts(tmp_path: Path) -> None:
    from tests.conftest import TEST_MNEMONIC

    out = tmp_path / "d"
    args = [
        str(BIN / "dydx-offline"),
        "derive",
        "--mnemonic-prompt",
        "--network",
        "5",
        "--out",
        str(out),
        "--json",
    ]
    code, screen = run_in_pty(
        args,
        [
            ("Mnemonic: ", TEST_MNEMONIC),
            ("Vault passphrase: ", "vault words"),
            ("Repeat the vault passphrase: ", "vault words"),
        ],
        tmp_path,
    )
    assert code == 0, screen
    assert "junk" not in screen and "vault words" not in screen  # nothing typed was echoed
    assert (out / "vault.dydx-vault").exists()
    code, screen = run_in_pty(
        [*args[:-3], "--out", str(tmp_path / "e")],
        [
            ("Mnemonic: ", TEST_MNEMONIC),
            ("Vault passphrase: ", "first long words"),
            ("Repeat the vault passphrase: ", "second long words"),
        ],
        tmp_path,
    )
    assert code == 1 and "differ; nothing was written" in screen
    assert not (tmp_path / "e" / "vault.dydx-vault").exists()


def test_a_weak_passphrase_is_refused_before_it_is_asked_again(tmp_path: Path) -> None:
    from tests.conftest import TEST_MNEMONIC

    args = [str(BIN / "dydx-offline"), "derive", "--mnemonic-prompt", "--network", "5", "--out",
            str(tmp_path / "d")]  # fmt: skip
    code, screen = run_in_pty(
        args, [("Mnemonic: ", TEST_MNEMONIC), ("Vault passphrase: ", "short")], tmp_path
    )
    assert code not in (0, None) and "at least 8" in screen, screen
    assert "Repeat the vault passphrase" not in screen
    assert not (tmp_path / "d" / "vault.dydx-vault").exists()


def _words_on(screen: str) -> dict[int, str]:
    """The numbered words keygen put on the screen: {number: word}."""
    shown = screen.split("Write them down", 1)[1].split("Press Enter", 1)[0]
    return {int(number): word for number, word in re.findall(r"(\d+) ([a-z]+)", shown)}


def test_keygen_shows_numbered_words_clears_them_and_checks_the_copy(tmp_path: Path) -> None:
    pw = write_secret(tmp_path / "pw", "a long enough keystore passphrase")

    def word(screen: str) -> str:
        number = int(re.findall(r"word #(\d+): ", screen)[-1])
        return _words_on(screen)[number]

    code, screen = run_in_pty(
        [str(BIN / "dydx-offline"), "keygen", "--out", "k.json", "--password-file", str(pw)],
        [
            ("Press Enter when you have written them down", ""),
            (r"word #\d+: ", word),
            (r"word #\d+: ", word),
            (r"word #\d+: ", word),
        ],
        tmp_path,
    )
    assert code == 0, screen
    words = _words_on(screen)
    assert sorted(words) == list(range(1, 25))  # 24 numbered words, each shown once
    grid = screen.split("Write them down", 1)[1].split("Press Enter", 1)[0]
    assert re.search(r" 1 \w+ +7 \w+ +13 \w+ +19 \w+", grid)  # four columns, read downwards
    after = screen.split("Press Enter when you have written them down", 1)[1]
    assert "\x1b[2J\x1b[3J" in after  # screen and scrollback cleared after Enter
    assert "your copy matches" in after and "created keystore" in after
    assert (tmp_path / "k.json").exists()


def test_keygen_with_a_wrong_copy_writes_no_keystore(tmp_path: Path) -> None:
    pw = write_secret(tmp_path / "pw", "a long enough keystore passphrase")
    answers: list[tuple[str, str | Answer]] = []
    for _ in range(3):
        answers += [("Press Enter when you have written them down", ""), (r"word #\d+: ", "notaword")]
    code, screen = run_in_pty(
        [str(BIN / "dydx-offline"), "keygen", "--out", "k.json", "--password-file", str(pw)],
        answers,
        tmp_path,
    )
    assert code not in (0, None), screen
    assert "does not match your copy" in screen and "no keystore was written" in screen
    assert not (tmp_path / "k.json").exists()


def test_keygen_check_can_be_skipped(tmp_path: Path) -> None:
    pw = write_secret(tmp_path / "pw", "a long enough keystore passphrase")
    code, screen = run_in_pty(
        [str(BIN / "dydx-offline"), "keygen", "--out", "k.json", "--password-file", str(pw)],
        [("Press Enter when you have written them down", ""), (r"word #\d+: ", "")],
        tmp_path,
    )
    assert code == 0, screen
    assert "check skipped" in screen and (tmp_path / "k.json").exists()
