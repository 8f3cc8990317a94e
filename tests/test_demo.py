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
    # The escape hatch: the frozen exchange pays the deposit back, and the auditor rechecks the proof.
    assert "verdict: the proof is valid; verifyEscape would register this fact" in out
    assert "isValid(fact): true" in out and "pending withdrawal now: 1250.5 USDC" in out
    assert "USDC withdrawn: 1250.5 USDC to" in out
    assert "PASS escape-proof cold/signed-escape.json" in out
    assert "3 escape transactions (verify-escape, escape, withdraw)" in out
    # The v4 part: deposit, trading key, the hot key's order accepted and its withdrawal refused, the cold
    # withdrawal, and a second bundle (one per network) whose v4 signatures and receipts verify.
    for kind in ("deposit", "add-trading-key", "withdraw"):
        assert f"v4 {kind} transaction broadcast and included" in out
    assert "short-term order under authenticator" in out and "cancel: code 0 (accepted)" in out
    assert "withdrawal with the hot key: code 4 (refused" in out
    assert "v4 subaccount 0 holds 400.000000 USDC" in out
    assert out.count("SIGN_MODE_DIRECT signature of dydx1") == 3
    assert (
        "0 submission(s) and 3 transaction(s)" in out and "verdict: all 14 checks pass" in out
    )  # 13 + signed-in-time
    key = json.loads((REPO / "demo-out" / "online" / "trading-key.json").read_text())
    assert key["safe_for_a_hot_key"] is True and key["chain_id"] == "dydx-testnet-4"
    hot = json.loads((REPO / "demo-out" / "trading" / "hot-key.json").read_text())
    assert key["hot_public_key"] == hot["public_key"]
    account = json.loads((REPO / "demo-out" / "online" / "account.json").read_text())
    assert account["user"]["isRegistered"] is True
    assert account["account"]["quoteBalance"] == "1250.5"
    # The auditor's page reads as a report: bodies with real line breaks, the policy as rows, exports named.
    report = (REPO / "demo-out" / "evidence-report.html").read_text()
    assert "\\u{000a}" not in report and "<pre>{\n" in report
    assert "policy of log entry" in report and "policy: confirmations" in report
    assert "exported onboarding-request" in report
    frames = sum(1 for _ in (REPO / "demo-out" / "gap").rglob("frame-*.png"))
    crossings = sum(1 for p in (REPO / "demo-out" / "gap").iterdir() if p.is_dir())
    figure(
        f"demo: {crossings} payloads crossed the gap as {frames} QR frames; v3 user registered, 1250.5 USDC "
        f"deposited; v4 deposit, trading key {key['authenticator_id']}, hot order accepted, hot withdrawal "
        "refused, cold withdrawal included"
    )
