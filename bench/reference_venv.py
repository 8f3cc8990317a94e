"""Find or build the virtualenv that holds dYdX's own client, dydx-v3-python 2.1.0.

It pins web3 5 and eth-account 0.5, which cannot live beside our eth-account 0.14, so it gets a virtualenv of
its own. The test suite's ``.venv-dydx3`` is reused when it imports dydx3 at the pinned version; otherwise
``bench/venv-dydx3`` is created (about a minute with pip's cache warm). dydx3's eth-abi 2 needs parsimonious
0.9 while its own pin lets pip pick 0.10, which removed an API eth-abi uses: hence the second install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_VENV = REPO / "bench" / "venv-dydx3"
TEST_SUITE_VENV = REPO / ".venv-dydx3"
DYDX3_VERSION = "2.1.0"
_CHECK = (
    "import importlib.metadata as m, dydx3, web3; "
    f"assert m.version('dydx-v3-python') == '{DYDX3_VERSION}'; "
    "assert m.version('parsimonious') == '0.9.0'"
)


def _works(python: Path) -> bool:
    if not python.exists():
        return False
    result = subprocess.run([python, "-c", _CHECK], capture_output=True, timeout=120)
    return result.returncode == 0


def _base_python() -> str | None:
    """A Python 3.11 to build the venv from: dydx3's pinned dependencies have no wheels past 3.11."""
    if sys.version_info[:2] == (3, 11):
        return getattr(sys, "_base_executable", None) or sys.executable
    return shutil.which("python3.11")


def dydx3_python(log: list[str]) -> Path | None:
    """The dydx3 interpreter, or None (with the reason appended to ``log``) if none can be had."""
    for venv in (TEST_SUITE_VENV, BENCH_VENV):
        python = venv / "bin" / "python"
        if _works(python):
            log.append(f"reused `{venv.relative_to(REPO)}`")
            return python
    base = _base_python()
    if base is None:
        log.append("no Python 3.11 to build the dydx-v3-python venv with")
        return None
    python = BENCH_VENV / "bin" / "python"
    steps: list[list[str]] = [
        [base, "-m", "venv", "--clear", str(BENCH_VENV)],
        [str(python), "-m", "pip", "install", "-q", f"dydx-v3-python=={DYDX3_VERSION}"],
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "parsimonious==0.9.0"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            log.append(f"could not build `bench/venv-dydx3`: {tail}")
            return None
    if not _works(python):
        log.append("`bench/venv-dydx3` was built but does not import dydx3 2.1.0")
        return None
    log.append("created `bench/venv-dydx3`")
    return python
