"""Finding 11: directories are created with their intended mode whatever the umask (secret ones and their
missing parents 0700, frame directories 0755 or 0700), and an existing directory is never chmod-ed: one
open to others is refused with the fix in the message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import new_payload

from .conftest import TEST_MNEMONIC, assert_clean_failure, run_tool, write_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_directories_get_their_own_mode_and_existing_ones_are_never_chmodded(tmp_path: Path, figure) -> None:
    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass phrase")
    derive = ["dydx-offline", "derive", "--mnemonic-file", mnemonic, "--network", "31337",
              "--vault-password-file", vp]  # fmt: skip
    stamp = iso_ms(now_utc())
    time_file = tmp_path / "time.json"
    time_file.write_bytes(
        new_payload(
            "time", 31337, None, {"server_time": stamp, "relay_time": stamp, "source": "x"}
        ).to_bytes()
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    old = os.umask(0)
    try:
        os.chmod(shared, 0o1777)  # a sticky, world-writable directory like /tmp
        nested = tmp_path / "new" / "deeper" / "derived"
        r1 = run_tool(*derive, "--out", nested)
        r2 = run_tool(*derive, "--out", shared)
        frames = tmp_path / "qr" / "frames"
        r3 = run_tool("dydx-relay", "export", time_file, "--qr-dir", frames)
        state = tmp_path / "relay" / "state"
        r4 = run_tool("dydx-relay", "init-evidence-key", "--state", state)
    finally:
        os.umask(old)
    checks = {
        "derive --out, missing parents 0700": r1.code == 0
        and [mode(p) for p in (tmp_path / "new", tmp_path / "new" / "deeper", nested)] == [0o700] * 3,
        "derive --out on a sticky 1777 directory refused, mode kept": r2.code != 0 and mode(shared) == 0o1777,
        "--qr-dir and its parent 0755 under umask 000": r3.code == 0
        and (mode(tmp_path / "qr"), mode(frames)) == (0o755, 0o755),
        "relay state and its parent 0700": r4.code == 0
        and (mode(tmp_path / "relay"), mode(state)) == (0o700, 0o700),
    }
    kept = sum(checks.values())
    figure(
        f"directories: intended modes under umask 000, no chmod of an existing directory: {kept} of {len(checks)}"
    )
    assert kept == len(checks), {k: v for k, v in checks.items() if not v}
    assert_clean_failure(r2, "chmod 700")
    assert not any(shared.iterdir())  # nothing written into it
