"""`make demo` end to end: the whole two-machine rehearsal must finish and leave the expected state."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_the_rehearsal_runs_end_to_end(tmp_path, figure) -> None:
    env = dict(os.environ)
    proc = subprocess.run(
        ["bash", str(REPO / "docs" / "demo.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "40 passed, 0 failed" in out  # the built-in self-test runs the v3 and the v4 vectors
    assert "registered on L1: True" in out
    assert "quote balance 1250.5 USDC" in out
    assert "nothing was sent again" in out
    assert "verdict: all" in out and "checks pass" in out and "FAIL" not in out
    assert (REPO / "demo-out" / "evidence.tar").exists()
    account = json.loads((REPO / "demo-out" / "online" / "account.json").read_text())
    assert account["user"]["isRegistered"] is True
    assert account["account"]["quoteBalance"] == "1250.5"
    frames = sum(1 for _ in (REPO / "demo-out" / "gap").rglob("frame-*.png"))
    crossings = sum(1 for p in (REPO / "demo-out" / "gap").iterdir() if p.is_dir())
    figure(
        f"demo: {crossings} payloads crossed the gap as {frames} QR frames; user registered, 1250.5 USDC deposited"
    )
