"""Finding 4: every copy of a payload that carries a derivation seed (the onboarding request: its signature
seeds the default API credentials) is 0600 from creation under umask 000, on both machines, and the
operator is told so."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .conftest import TEST_MNEMONIC, run_tool, write_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_seed_carrying_payload_copies_are_0600_on_both_machines(tmp_path: Path, figure) -> None:
    old = os.umask(0)
    try:
        mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
        cold, relay = tmp_path / "cold", tmp_path / "relay"
        cold.mkdir(mode=0o700)
        relay.mkdir(mode=0o700)
        log = ["--evidence-log", cold / "evidence.jsonl"]
        onboarding = cold / "onboarding.json"
        r = run_tool(
            "dydx-offline", "sign", "onboarding", "--mnemonic-file", mnemonic, "--network", "31337", "--yes",
            "--out", onboarding, *log,
        )  # fmt: skip
        assert r.code == 0, r
        told = "0600" in r.err
        frames, page = cold / "frames", cold / "page.html"
        r = run_tool("dydx-offline", "export", onboarding, "--qr-dir", frames, "--html", page, *log)
        assert r.code == 0, r
        told = told and "0600" in r.err
        imported = relay / "onboarding.json"
        r = run_tool("dydx-relay", "import", "--images", frames, "--out", imported)
        assert r.code == 0, r
        told = told and "0600" in r.err
        from_file = relay / "onboarding-file.json"
        assert run_tool("dydx-relay", "import", "--file", onboarding, "--out", from_file).code == 0
        bundle = tmp_path / "bundle"
        r = run_tool(
            "dydx-offline", "evidence", "bundle", "--mnemonic-file", mnemonic, "--network", "31337",
            "--from", cold, "--out", bundle, *log,
        )  # fmt: skip
        assert r.code == 0, r
        copies = [onboarding, page, imported, from_file, bundle / "cold" / "onboarding.json"]
        copies += sorted(frames.glob("*.png"))
        private = sum(mode(p) == 0o600 for p in copies)
        figure(
            f"permissions: copies of the onboarding payload (file, {len(copies) - 5} frame(s), page, two imports, bundle) "
            f"0600 under umask 000: {private} of {len(copies)}; frame directory {mode(frames):04o}"
        )
        assert private == len(copies)
        assert mode(frames) == 0o700
        assert told
    finally:
        os.umask(old)
