"""Compile the stand-in contracts (``contracts/*.vy``) with Vyper, offline, with an on-disk cache.

The repository holds only the Vyper sources; bytecode is produced at chain start. The cache key is the
source hash plus the compiler version and EVM target, so editing a contract or upgrading Vyper can never
serve stale bytecode. A cache that cannot be written (read-only home) only costs a recompile.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
# The fork the local node runs (py-evm's PragueVM); the compiler must not emit newer opcodes.
EVM_VERSION = "prague"
CACHE_ENV = "DYDX_AIRGAP_CACHE_DIR"


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes  # init code: constructor arguments are appended ABI-encoded


def default_cache_dir() -> Path:
    """``$DYDX_AIRGAP_CACHE_DIR`` or ``$XDG_CACHE_HOME/dydx-airgap`` (``~/.cache/dydx-airgap``)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dydx-airgap"


def compiler_version() -> str:
    from importlib.metadata import version

    return version("vyper")


def compile_contract(name: str, cache_dir: Path | None = None) -> CompiledContract:
    """ABI and init code of ``contracts/<name>.vy``, from the cache when the key matches."""
    source_path = CONTRACTS_DIR / f"{name}.vy"
    source = source_path.read_text(encoding="utf-8")
    key = hashlib.sha256(
        f"vyper {compiler_version()}\0evm {EVM_VERSION}\0{name}\0{source}".encode()
    ).hexdigest()
    cache_file = (cache_dir or default_cache_dir()) / "vyper" / f"{name}-{key[:40]}.json"
    cached = _read_cache(cache_file, key)
    if cached is not None:
        return CompiledContract(name=name, abi=cached[0], bytecode=cached[1])
    abi, bytecode = _compile(source, source_path)
    _write_cache(cache_file, {"key": key, "abi": abi, "bytecode": bytecode.hex()})
    return CompiledContract(name=name, abi=abi, bytecode=bytecode)


def _compile(source: str, source_path: Path) -> tuple[list[dict[str, Any]], bytes]:
    # Imported here: Vyper takes a while to import and is only needed on a cache miss.
    import vyper
    from vyper.compiler.settings import OptimizationLevel, Settings

    output = vyper.compile_code(
        source,
        contract_path=source_path.name,
        output_formats=["abi", "bytecode"],
        settings=Settings(evm_version=EVM_VERSION, optimize=OptimizationLevel.GAS),
    )
    bytecode_hex = output["bytecode"]
    return output["abi"], bytes.fromhex(bytecode_hex.removeprefix("0x"))


def _read_cache(path: Path, key: str) -> tuple[list[dict[str, Any]], bytes] | None:
    """The cached (abi, init code), or None for a missing, foreign or damaged entry."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("abi"), list):
            return None
        return entry["abi"], bytes.fromhex(entry["bytecode"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, entry: dict[str, Any]) -> None:
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: two chains starting at once never read a half-written file.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            json.dump(entry, handle)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
