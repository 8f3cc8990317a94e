"""The batch progress display: on a terminal after a delay, transient, never from a thread; silent with --json
or when stdout is not a terminal."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import pytest

from dydx_airgap.shared.progress import BatchProgress, disabled, wanted
from tests.conftest import TEST_MNEMONIC, run_tool, write_secret
from tests.offline.test_interactive import run_in_pty
from tests.test_evidence import shared_flow


class Terminal(io.StringIO):
    """What rich draws on, taken for a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_wanted_only_on_a_terminal_without_json() -> None:
    assert wanted(False, Terminal())
    assert not wanted(True, Terminal())
    assert not wanted(False, io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not wanted(False, closed)


def test_the_bar_appears_after_the_delay_shows_counts_and_is_erased() -> None:
    screen, clock = Terminal(), Clock()
    threads = threading.active_count()
    with BatchProgress(True, file=screen, show_after=1.0, clock=clock) as progress:
        advance = progress.stage("deriving", 1000)
        advance(100)
        assert screen.getvalue() == ""  # a short run never flashes a bar
        clock.now = 1.5
        advance(400)
        assert "deriving" in screen.getvalue() and "500/1,000" in screen.getvalue()
        assert threading.active_count() == threads  # no refresh thread: batch.py may still fork
        clock.now = 2.0
        progress.stage("writing the vault and 1,000 files")
        assert "writing the vault" in screen.getvalue()
    assert progress.enabled is False
    assert screen.getvalue().endswith("\x1b[1A\x1b[2K")  # transient: the bar's line is erased at the end


def test_a_disabled_progress_draws_nothing() -> None:
    screen, clock = Terminal(), Clock()
    progress = BatchProgress(False, file=screen, show_after=0, clock=clock)
    advance = progress.stage("deriving", 10)
    clock.now = 10.0
    advance(10)
    progress.close()
    assert screen.getvalue() == ""
    assert disabled().enabled is False


def test_batch_commands_print_no_progress_into_a_pipe_or_json(tmp_path: Path) -> None:
    """Scripts see exactly what they saw before: no bar, no control characters — for every batch command."""
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass")
    source = ["--mnemonic-file", mn, "--accounts", "0-39"]
    for extra in ([], ["--json"]):
        runs = [
            (["dydx-offline", "derive", *source, "--network", "1", "--out", tmp_path / f"d{len(extra)}",
              "--vault-password-file", vp], 0),
            (["dydx-offline", "derive-v4", *source, "--v4-network", "mainnet", "--out",
              tmp_path / f"v{len(extra)}", "--vault-password-file", vp], 0),
            (["dydx-offline", "recover", *source, "--network", "1", "--match", "0x" + "ab" * 8], 1),
        ]  # fmt: skip
        for command, code in runs:
            result = run_tool(*command, *extra, cwd=tmp_path)  # type: ignore[arg-type]
            assert result.code == code, result
            seen = result.out + result.err
            assert "\x1b" not in seen, command[1]
            for stage in ("deriving", "searching", "reading back", "writing the vault"):
                assert stage not in seen, (command[1], stage)


def test_audit_verify_prints_no_progress_into_a_pipe(tmp_path_factory: pytest.TempPathFactory) -> None:
    flow = shared_flow(tmp_path_factory)
    for extra in ([], ["--json"]):
        result = run_tool("dydx-audit", "verify", str(flow.bundle), "--unpinned", *extra)
        assert result.code == 0, result
        seen = result.out + result.err
        assert "\x1b" not in seen
        assert "checking payloads" not in seen and "searching for secrets" not in seen


# The cold CLI with the display's delay set to zero, so that even a short batch shows its bar.
NO_DELAY = """
import sys
from dydx_airgap.shared import progress
progress.SHOW_AFTER_SECONDS = 0
from dydx_airgap.offline.cli import main
sys.exit(main(sys.argv[1:]))
"""
AUDIT_NO_DELAY = NO_DELAY.replace("dydx_airgap.offline.cli", "dydx_airgap.shared.audit.cli")
RELAY_NO_DELAY = NO_DELAY.replace("dydx_airgap.offline.cli", "dydx_airgap.online.cli")


def test_derive_and_recover_show_their_stages_on_a_terminal(tmp_path: Path) -> None:
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass")
    source = ["--mnemonic-file", str(mn), "--accounts", "0-39"]
    code, screen = run_in_pty(
        [sys.executable, "-c", NO_DELAY, "derive", *source, "--network", "1", "--out", "d",
         "--vault-password-file", str(vp)],
        [],
        tmp_path,
    )  # fmt: skip
    assert code == 0, screen
    for stage in ("deriving", "40/40", "writing the vault and 40 files", "reading back"):
        assert stage in screen, stage
    assert "account 39:" in screen  # the result, printed after the bar was erased
    code, screen = run_in_pty(
        [sys.executable, "-c", NO_DELAY, "recover", *source, "--network", "1", "--match", "0x" + "ab" * 8],
        [],
        tmp_path,
    )
    assert code == 1 and "searching" in screen and "not found" in screen, screen


def test_derive_v4_shows_its_stages_on_a_terminal(tmp_path: Path) -> None:
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass")
    code, screen = run_in_pty(
        [sys.executable, "-c", NO_DELAY, "derive-v4", "--mnemonic-file", str(mn), "--accounts", "0-39",
         "--v4-network", "mainnet", "--out", "v", "--vault-password-file", str(vp)],
        [],
        tmp_path,
    )  # fmt: skip
    assert code == 0, screen
    for stage in ("deriving", "40/40", "writing the vault and 40 files", "reading back"):
        assert stage in screen, stage
    assert "account 39: dydx1" in screen


def test_audit_verify_shows_its_stages_on_a_terminal(tmp_path_factory: pytest.TempPathFactory) -> None:
    flow = shared_flow(tmp_path_factory)
    code, screen = run_in_pty(
        [sys.executable, "-c", AUDIT_NO_DELAY, "verify", str(flow.bundle), "--unpinned"],
        [],
        flow.root,
    )
    assert code == 0, screen
    assert "checking payloads" in screen and "searching for secrets" in screen, screen
    assert "verdict: all" in screen  # the result, printed after the bar was erased
    page = flow.root / "progress-report.html"
    code, screen = run_in_pty(
        [sys.executable, "-c", AUDIT_NO_DELAY, "report", str(flow.bundle), "--html", str(page)], [], flow.root
    )
    assert code == 0, screen
    for stage in ("checking payloads", "drawing QR codes", "writing the page"):
        assert stage in screen, stage
    assert "wrote" in screen and "<svg" in page.read_text()


def test_evidence_bundle_shows_its_stages_on_a_terminal_and_nothing_in_a_pipe(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from tests.test_evidence import NETWORK

    flow = shared_flow(tmp_path_factory)
    source = ["--mnemonic-file", str(flow.mnemonic), "--network", NETWORK,
              "--evidence-log", str(flow.cold / "evidence.jsonl"), "--from", str(flow.cold)]  # fmt: skip
    code, screen = run_in_pty(
        [sys.executable, "-c", NO_DELAY, "evidence", "bundle", *source, "--out", str(tmp_path / "b-tty")],
        [],
        tmp_path,
    )
    assert code == 0, screen
    for stage in ("collecting what the log records", "checking payloads", "writing", "reading back"):
        assert stage in screen, stage
    assert "bundle " in screen  # the result, printed after the bar was erased
    for extra in ([], ["--json"]):
        result = run_tool("dydx-offline", "evidence", "bundle", *source, "--out", tmp_path / f"b{len(extra)}",
                          *extra)  # fmt: skip
        assert result.code == 0, result
        seen = result.out + result.err
        assert "\x1b" not in seen and "collecting" not in seen and "reading back" not in seen


def test_the_relays_evidence_commands_show_their_stages_on_a_terminal_and_nothing_in_a_pipe(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    import shutil

    flow = shared_flow(tmp_path_factory)
    copies = {name: tmp_path / name for name in ("tty", "pipe")}
    for copy in copies.values():
        shutil.copytree(flow.bundle, copy)
    state = ["--state", str(flow.state)]
    add = ["evidence", "add-receipts", "--replace", *state]
    code, screen = run_in_pty([sys.executable, "-c", RELAY_NO_DELAY, *add, str(copies["tty"])], [], tmp_path)
    assert code == 0, screen
    for stage in ("checking payloads", "searching for secrets", "writing the receipts"):
        assert stage in screen, stage
    assert "added relay receipts" in screen
    code, screen = run_in_pty(
        [sys.executable, "-c", RELAY_NO_DELAY, "evidence", "pack", str(copies["tty"]), "--out",
         str(tmp_path / "tty.tar")],
        [],
        tmp_path,
    )  # fmt: skip
    assert code == 0, screen
    assert "checking payloads" in screen and "writing the archive" in screen and "packed" in screen
    for command in (
        ["dydx-relay", *add, copies["pipe"]],
        ["dydx-relay", *add, copies["pipe"], "--json"],
        ["dydx-relay", "evidence", "pack", copies["pipe"], "--out", tmp_path / "pipe.tar"],
    ):
        result = run_tool(*command)  # type: ignore[arg-type]
        assert result.code == 0, result
        seen = result.out + result.err
        assert "\x1b" not in seen and "checking payloads" not in seen and "writing the" not in seen
