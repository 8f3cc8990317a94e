"""Shared test helpers: run the real command-line tools in real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KIT = REPO.parent / "shared"
KIT_VECTORS = KIT / "vectors" / "dydx-v3.json"
BIN = Path(sys.executable).parent


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_tool(
    tool: str,
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Result:
    """Run dydx-offline / dydx-relay / dydx-audit as a user would, with no terminal attached."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [str(BIN / tool), *map(str, args)],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        start_new_session=True,  # no controlling terminal: prompts must fail cleanly, not hang
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """One line on stderr, starting 'error:' (or click's usage error), no traceback, non-zero exit."""
    assert result.code != 0, result
    assert "Traceback" not in result.err and "Traceback" not in result.out
    lines = result.err_lines
    assert lines, result
    error_lines = [line for line in lines if line.startswith(("error:", "Error:"))]
    assert len(error_lines) == 1, lines
    for fragment in fragments:
        assert fragment.lower() in result.err.lower(), (fragment, result.err)


def write_secret(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def kit_vectors() -> list[dict]:
    return json.loads(KIT_VECTORS.read_text())["vectors"]


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    d = tmp_path / "secrets"
    d.mkdir(mode=0o700)
    return d


TEST_MNEMONIC = "test test test test test test test test test test test junk"


@pytest.fixture
def keystore(secrets_dir: Path) -> tuple[Path, Path, str]:
    """A keystore of the first vector's key (fast pbkdf2 KDF), its password file, its address."""
    from eth_account import Account

    v = kit_vectors()[4]  # ganache/1
    data = Account.encrypt(v["eth_private_key"], "pass-word-1", kdf="pbkdf2", iterations=1000)
    ks = secrets_dir / "key.json"
    write_secret(ks, json.dumps(data))
    pw = write_secret(secrets_dir / "pw", "pass-word-1")
    return ks, pw, v["ethereum_address"]


_FIGURES: list[str] = []


@pytest.fixture
def figure():
    """Record a measured figure; all of them are printed at the end of the run (the checks' numbers)."""

    def record(text: str) -> None:
        _FIGURES.append(text)

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def origin_signer_for(private_key_hex: str):
    """Test scaffolding: an origin signer made straight from a private key with coincurve (no cold package),
    for tests that build cold-side payloads themselves."""
    import coincurve

    from dydx_airgap.shared.transport.origin import origin_message_hash

    key = coincurve.PrivateKey(bytes.fromhex(private_key_hex.removeprefix("0x")))

    def sign(chain_id: int, address: str, content_sha256: bytes) -> str:
        compact = key.sign_recoverable(origin_message_hash(chain_id, address, content_sha256), hasher=None)
        return "0x" + (compact[:64] + bytes([compact[64] + 27, 3])).hex()

    return sign
