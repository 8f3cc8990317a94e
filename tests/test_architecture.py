"""The layout holds: the documented map and kind table are the real ones, no import cycle exists anywhere in
the package, every relay package is bound by the rehearsal contract, and every shared flag is declared once."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping

from dydx_airgap.shared.transport.kinds import KINDS, ORIGIN_SIGNED_KINDS, TO_COLD, TO_RELAY, Direction

from .conftest import REPO

TOPS = ("offline", "online", "shared")
ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text()


def _section(title: str) -> str:
    start = ARCHITECTURE.index(f"## {title}")
    end = ARCHITECTURE.find("\n## ", start + 1)
    return ARCHITECTURE[start : end if end != -1 else None]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header


def test_the_documented_kind_table_is_the_kind_table() -> None:
    documented = {}
    for kind, direction, made_by, consumed_by, signed, _carries in _table_rows(_section("Payload kinds")):
        documented[kind.strip("`")] = (direction, made_by.strip("`"), consumed_by.strip("`"), signed)
    actual = {
        k.name: (k.direction.value, k.made_by, k.consumed_by, "yes" if k.origin_signed else "no")
        for k in KINDS.values()
    }
    assert documented == actual


def test_what_the_cold_machine_exports_is_exactly_what_it_origin_signs() -> None:
    assert TO_RELAY == ORIGIN_SIGNED_KINDS
    assert set(KINDS) == TO_RELAY | TO_COLD and not TO_RELAY & TO_COLD
    assert {k.direction for k in KINDS.values()} == set(Direction)


def test_every_module_the_kind_table_names_exists() -> None:
    for kind in KINDS.values():
        for place in (kind.made_by, *kind.consumed_by.split(", ")):
            assert (REPO / place).exists(), (kind.name, place)


def test_the_documented_map_names_every_package_and_only_real_ones() -> None:
    cells = [row[0] for row in _table_rows(_section("The map"))]
    documented = {re.match(r"`([^`]+)`", cell).group(1).rstrip("/") for cell in cells}  # type: ignore[union-attr]
    packages = {top for top in TOPS} | {
        f"{top}/{d.name}" for top in TOPS for d in (REPO / top).iterdir() if (d / "__init__.py").exists()
    }
    assert documented == packages


# --- import cycles --------------------------------------------------------------------------------------


def _module_files() -> dict[str, tuple[bool, ast.Module]]:
    modules = {}
    for top in TOPS:
        for path in (REPO / top).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules["dydx_airgap." + ".".join(parts)] = (is_package, ast.parse(path.read_text()))
    return modules


def import_graph() -> dict[str, set[str]]:
    """Every import anywhere in a module, deferred ones included (a deferred import still holds a cycle)."""
    modules = _module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (is_package, tree) in modules.items():
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [target] + [f"{target}.{alias.name}" for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; returns the components of more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_finds_cycles_it_is_shown() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 100  # the walk really saw the package
    assert "dydx_airgap.shared.transport.kinds" in graph["dydx_airgap.shared.transport.payload"]
    assert strongly_connected(graph) == []


# --- contracts and options ------------------------------------------------------------------------------


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_relay_module_is_bound_by_the_rehearsal_contract() -> None:
    """A new online package must be added to the contract (or live under rehearsal/) to exist at all."""
    (contract,) = [c for c in _contracts() if c.get("forbidden_modules") == ["dydx_airgap.online.rehearsal"]]
    sources = contract["source_modules"]
    assert isinstance(sources, list)
    online = REPO / "online"
    children = {p.stem for p in online.glob("*.py")} | {p.parent.name for p in online.glob("*/__init__.py")}
    expected = {f"dydx_airgap.online.{name}" for name in children - {"__init__", "cli", "rehearsal"}}
    assert set(sources) == expected


def test_the_rehearsal_servers_start_only_through_the_relay_cli() -> None:
    assert not list((REPO / "online" / "rehearsal").rglob("__main__.py"))
    for path in (REPO / "online").rglob("*.py"):
        assert "argparse" not in path.read_text(), path


def _declared_flags(text: str) -> list[str]:
    return re.findall(r'click\.option\(\s*"(--[a-z][a-z-]*)"', text)


def test_every_shared_flag_is_declared_once_in_its_sides_options_module() -> None:
    # Flags only one command takes may stay with it; a flag in options.py may not be declared again.
    allowed_elsewhere = {
        "online": {
            # broadcast's and escape broadcast's receipt wait, not the HTTP timeout
            "--timeout": {"onchain/commands.py", "escape/commands.py"},
        },
        # keygen's --password-file protects the keystore it creates; the key sources' opens an existing one.
        # recover's --network takes several networks (or all), every other command's exactly one.
        "offline": {"--password-file": {"keys/commands.py"}, "--network": {"keys/commands.py"}},
    }
    for side in ("offline", "online"):
        shared = set(_declared_flags((REPO / side / "options.py").read_text()))
        assert len(shared) >= 5
        for path in (REPO / side).rglob("*.py"):
            relative = str(path.relative_to(REPO / side))
            if relative == "options.py" or relative.startswith("rehearsal/"):
                continue  # the stand-ins are not relay commands: their --network / --rpc say what they serve
            for flag in set(_declared_flags(path.read_text())) & shared:
                assert relative in allowed_elsewhere[side].get(flag, set()), (side, relative, flag)
