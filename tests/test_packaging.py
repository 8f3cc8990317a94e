"""The distribution ships every package and data file: pyproject's explicit package list must name every
folder with an __init__.py, or a normal (non-editable) install silently lacks modules."""

from __future__ import annotations

import tomllib

from .conftest import REPO


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for top in ("offline", "online", "shared"):
        for init in (REPO / top).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / top)
            found.add(".".join(["dydx_airgap", top, *relative.parts]))
    assert found == listed


def test_data_files_are_declared() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/*.json" in data["dydx_airgap.offline"] and "data/*.txt" in data["dydx_airgap.offline"]
    assert "contracts/*.vy" in data["dydx_airgap.online.rehearsal.evm"]
    assert (REPO / "offline" / "data" / "dydx-v3-vectors.json").exists()
    assert (REPO / "offline" / "data" / "lock.txt").exists()
