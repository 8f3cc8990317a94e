"""The distribution ships every package and data file: pyproject's explicit package list must name every
folder with an __init__.py and every data folder, or a normal (non-editable) install silently lacks
modules; and a real wheel build holds every module and data file and prints no setuptools warning."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.conftest import REPO

TOPS = ("offline", "online", "shared")
#: Folders that hold data, not code; each is listed in pyproject as a package so setuptools ships it.
DATA_FOLDERS = {
    "dydx_airgap.offline.data": ("offline/data", ("*.json", "*.txt")),
    "dydx_airgap.online.rehearsal.evm.contracts": ("online/rehearsal/evm/contracts", ("*.vy",)),
    "dydx_airgap.online.rehearsal.escape.data": ("online/rehearsal/escape/data", ("*.json",)),
}


def _setuptools() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config


def _code_packages() -> set[str]:
    found = set()
    for top in TOPS:
        for init in (REPO / top).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / top)
            found.add(".".join(["dydx_airgap", top, *relative.parts]))
    return found


def test_every_package_and_data_folder_is_listed_in_pyproject() -> None:
    listed = _setuptools()["packages"]
    assert isinstance(listed, list)
    assert set(listed) == _code_packages() | set(DATA_FOLDERS)


def test_every_folder_without_code_is_a_declared_data_folder() -> None:
    declared = {REPO / folder for folder, _ in DATA_FOLDERS.values()}
    for top in TOPS:
        for folder in (REPO / top).rglob("*"):
            if not folder.is_dir() or folder.name == "__pycache__" or (folder / "__init__.py").exists():
                continue
            assert folder in declared, f"{folder.relative_to(REPO)} is neither a package nor a data folder"


def test_data_files_are_declared() -> None:
    data = _setuptools()["package-data"]
    assert isinstance(data, dict)
    for package, (folder, patterns) in DATA_FOLDERS.items():
        assert sorted(data[package]) == sorted(patterns)
        assert any((REPO / folder).glob(patterns[0])), folder
    assert (REPO / "offline" / "data" / "dydx-v3-vectors.json").exists()
    assert (REPO / "offline" / "data" / "lock.txt").exists()


def test_a_built_wheel_holds_every_module_and_data_file_and_the_build_warns_of_nothing(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "__pycache__", "*.egg-info", "build", ".*cache*", "demo-out"
        ),
    )
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    output = build.stdout + build.stderr
    warnings = [line for line in output.splitlines() if "Warning" in line and "Location 'file:" not in line]
    assert warnings == []
    (wheel,) = wheels.glob("dydx_airgap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data_folders = {folder for folder, _ in DATA_FOLDERS.values()}
    expected = {
        f"dydx_airgap/{path.relative_to(REPO).as_posix()}"
        for top in TOPS
        for path in (REPO / top).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or path.parent.relative_to(REPO).as_posix() in data_folders)
    }
    assert len(expected) > 150
    assert expected - names == set()


def test_the_editable_install_make_runs_prints_no_warning(tmp_path: Path) -> None:
    """`make demo` / `make test` install the project editable: that install must say nothing (issue 14)."""
    makefile = (REPO / "Makefile").read_text()
    match = re.search(r'^EDITABLE_QUIET := (\w+)="([^"]*)"$', makefile, re.MULTILINE)
    assert match is not None
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "__pycache__", "*.egg-info", "build", ".*cache*", "demo-out"
        ),
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # As the Makefile does: a current pip relays the build backend's warnings (an old one swallows them).
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip"],
        check=True,
        timeout=300,
        capture_output=True,
    )
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", "-q", "-e", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, match.group(1): match.group(2), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert install.returncode == 0, install.stderr[-2000:]
    output = install.stdout + install.stderr
    noise = [
        line
        for line in output.splitlines()
        if line.strip() and "Location 'file:" not in line  # the machine's pip configuration, not ours
    ]
    assert noise == []
