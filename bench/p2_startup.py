"""P2: start-up of the three tools, and one `dydx-offline derive` from an scrypt keystore with its KDF shares.

Start-up is the wall time of ``TOOL --help`` in a fresh process, interleaved with a bare ``python -c pass``
from the same interpreter (the baseline no tool can beat). The keystore is written by our own ``keygen``
(scrypt, eth-account's default parameters) and the derive is timed end to end; the key-derivation functions
inside it — scrypt to open the keystore, Argon2id twice for the vault (written, then read back) — are timed
alone in this process, so their share of the total is visible.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import median, ms, ratio, s, table, verdict

from dydx_airgap.offline.keys.sources import decrypt_keystore_bytes
from dydx_airgap.offline.keys.vault import KDF_DEFAULT
from dydx_airgap.shared.secret import Secret

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
TOOLS = ("dydx-offline", "dydx-relay", "dydx-audit")
START_UP_TARGET = 0.15
PASSWORD = "bench keystore password"


def _wall(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} {command[1]} failed: {result.stderr.strip()[-300:]}")
    return wall


def _secret_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _argon2id_once() -> float:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    kdf = Argon2id(
        salt=os.urandom(16),
        length=32,
        iterations=KDF_DEFAULT["iterations"],
        lanes=KDF_DEFAULT["lanes"],
        memory_cost=KDF_DEFAULT["memory_kib"],
    )
    started = time.perf_counter()
    kdf.derive(b"bench vault passphrase")
    return time.perf_counter() - started


def run(start_up_runs: int, derive_runs: int) -> tuple[str, dict[str, float]]:
    python = str(BIN / "python")
    commands = {"`python -c pass` (baseline)": [python, "-c", "pass"]}
    commands |= {f"`{tool} --help`": [str(BIN / tool), "--help"] for tool in TOOLS}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        _wall(command)  # warm the page cache: a cold first run measures the disk, not us
    for _ in range(start_up_runs):
        for name, command in commands.items():
            walls[name].append(_wall(command))
    medians = {name: median(values) for name, values in walls.items()}
    baseline = medians["`python -c pass` (baseline)"]
    figures = {f"start-up {tool}": medians[f"`{tool} --help`"] for tool in TOOLS}
    rows = [
        [
            name,
            ms(value),
            ratio(value, baseline),
            "—" if "baseline" in name else verdict(value <= START_UP_TARGET),
        ]
        for name, value in medians.items()
    ]
    out = [
        "### P2 — start-up and a single derive from a keystore",
        "",
        table(
            [
                f"command (median of {start_up_runs})",
                "wall",
                "vs bare interpreter",
                f"target ≤ {ms(START_UP_TARGET)}",
            ],
            rows,
        ),
        "",
    ]

    with tempfile.TemporaryDirectory(prefix="dydx-bench-") as tmp:
        directory = Path(tmp)
        password = _secret_file(directory / "pw", PASSWORD)
        vault_password = _secret_file(directory / "vp", "bench vault passphrase")
        offline = str(BIN / "dydx-offline")
        keygen_wall = _wall(
            [
                offline,
                "keygen",
                "--out",
                "k.json",
                "--password-file",
                str(password),
                "--mnemonic-out",
                "m.txt",
            ],
            cwd=directory,
        )
        derive_walls = [
            _wall(
                [
                    offline,
                    "derive",
                    "--keystore",
                    "k.json",
                    "--password-file",
                    str(password),
                    "--network",
                    "1",
                    "--out",
                    f"out{attempt}",
                    "--vault-password-file",
                    str(vault_password),
                ],
                cwd=directory,
            )
            for attempt in range(derive_runs)
        ]
        keystore = (directory / "k.json").read_bytes()
        scrypt_runs = []
        for _ in range(derive_runs):
            started = time.perf_counter()
            decrypt_keystore_bytes(keystore, Secret(PASSWORD), directory / "k.json")
            scrypt_runs.append(time.perf_counter() - started)
    # eth-account (imported to open the keystore) is the heaviest import on that path: time it alone.
    eth_account_import = median(
        _wall([python, "-c", "import eth_account"]) - _wall([python, "-c", "pass"]) for _ in range(5)
    )
    scrypt = median(scrypt_runs)
    argon2id = median(_argon2id_once() for _ in range(derive_runs))
    derive = median(derive_walls)
    rest = derive - scrypt - 2 * argon2id - eth_account_import
    figures |= {"derive_keystore": derive, "scrypt": scrypt}
    out += [
        table(
            [f"`dydx-offline derive --keystore` (1 account, median of {derive_runs})", "wall", "share"],
            [
                ["total", s(derive), "100%"],
                [
                    "scrypt: opening the keystore (timed alone in this process)",
                    s(scrypt),
                    f"{scrypt / derive:.0%}",
                ],
                [
                    "Argon2id ×2: vault written, then read back (timed alone)",
                    s(2 * argon2id),
                    f"{2 * argon2id / derive:.0%}",
                ],
                [
                    "importing eth-account (fresh interpreter, minus a bare start-up)",
                    s(eth_account_import),
                    f"{eth_account_import / derive:.0%}",
                ],
                ["everything else: start-up, derivation, files, checks", s(rest), f"{rest / derive:.0%}"],
            ],
        ),
        "",
        f"The keystore came from `dydx-offline keygen` (scrypt, eth-account's defaults; keygen itself took "
        f"{s(keygen_wall)}: it encrypts, then decrypts to check). Python {sys.version.split()[0]}.",
        "",
    ]
    return "\n".join(out), figures
