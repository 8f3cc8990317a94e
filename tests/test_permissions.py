"""Under umask 000, every secret file is 0600 and every secret directory 0700 from creation (kit
spec/security.md check 8), on both machines; and secret files that others can read are refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dydx_airgap.online.rehearsal.v3_api import start_local_api

from .conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_secret_file_and_directory_is_private_under_umask_000(tmp_path: Path, figure) -> None:
    old = os.umask(0)
    checked: list[str] = []
    try:
        sec = tmp_path / "sec"
        sec.mkdir(mode=0o700)
        pw = write_secret(sec / "pw", "a long keystore password")
        vp = write_secret(sec / "vp", "vault pass")
        cold = tmp_path / "cold"
        cold.mkdir()
        assert (
            run_tool(
                "dydx-offline",
                "keygen",
                "--out",
                cold / "key.json",
                "--password-file",
                pw,
                "--mnemonic-out",
                cold / "words.txt",
                cwd=cold,
            ).code
            == 0
        )
        assert (
            run_tool(
                "dydx-offline",
                "derive",
                "--keystore",
                cold / "key.json",
                "--password-file",
                pw,
                "--network",
                "31337",
                "--out",
                cold / "derived",
                "--vault-password-file",
                vp,
                cwd=cold,
            ).code
            == 0
        )
        assert (
            run_tool(
                "dydx-offline",
                "sign",
                "onboarding",
                "--keystore",
                cold / "key.json",
                "--password-file",
                pw,
                "--network",
                "31337",
                "--out",
                cold / "onboarding.json",
                "--yes",
                cwd=cold,
            ).code
            == 0
        )
        for secret_file in (cold / "key.json", cold / "words.txt", cold / "derived" / "vault.dydx-vault"):
            assert mode(secret_file) == 0o600, secret_file
            checked.append(secret_file.name)
        assert mode(cold / "derived") == 0o700
        checked.append("derived/")

        online = tmp_path / "online"
        online.mkdir()
        state = online / "state"
        with start_local_api(db=online / "api.sqlite3", chain_id=31337) as api:
            assert mode(online / "api.sqlite3") == 0o600
            checked.append("api.sqlite3")
            assert run_tool("dydx-relay", "init-evidence-key", "--state", state).code == 0
            r = run_tool(
                "dydx-relay",
                "submit",
                cold / "onboarding.json",
                "--api",
                api.url,
                "--network",
                "31337",
                "--state",
                state,
            )
            assert r.code == 0, r
        assert mode(state) == 0o700
        checked.append("relay state/")
        for path in sorted(p for p in state.rglob("*")):
            if path.is_dir():
                assert mode(path) == 0o700, path
            elif path.is_file() and not path.name.endswith(".lock"):
                assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
                checked.append(path.name)
    finally:
        os.umask(old)
    figure(
        f"permissions: under umask 000, {len(checked)} secret files and directories created private: "
        f"{', '.join(checked)}"
    )


def test_readable_secret_files_are_refused(tmp_path: Path) -> None:
    words = write_secret(tmp_path / "words", TEST_MNEMONIC)
    os.chmod(words, 0o640)
    r = run_tool(
        "dydx-offline", "derive", "--mnemonic-file", words, "--network", "1", "--out", tmp_path / "o"
    )
    assert_clean_failure(r, "readable by others")
    assert not (tmp_path / "o").exists()
