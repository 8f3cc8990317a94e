"""The firm's Ethereum addresses, pinned on the relay: payloads of any other key are refused.

An origin signature proves a payload came from the key of the address it names — any key, including one an
attacker made. Pinning says which keys are the firm's: addresses are kept in the state directory
(``firm-addresses.json``, added with ``dydx-relay pin-address``) and can be given per run with
``--expect-address``. A relay with no pin at all accepts any key and says so on every submission.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from dydx_airgap.shared.errors import FormatError, InputError, PolicyError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.fsutil import make_secret_dir, read_untrusted_file, write_secret_file

PINS_FILE = "firm-addresses.json"
MAX_PINS = 1000

UNPINNED_NOTE = (
    "no firm address is pinned: a payload of any key is accepted; pin yours with 'dydx-relay pin-address'"
)


def _checksummed(text: str, where: str) -> str:
    try:
        return to_checksum_address(parse_address(text.strip()))
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}") from None


def load_pins(state_dir: Path) -> frozenset[str]:
    path = state_dir / PINS_FILE
    if not path.exists():
        return frozenset()
    try:
        value = json.loads(read_untrusted_file(path, cap=64 * 1024))
    except (ValueError, RecursionError):
        raise FormatError(f"{path} is not a JSON list of addresses") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError(f"{path} is not a JSON list of addresses")
    return frozenset(_checksummed(v, str(path)) for v in value)


def add_pin(state_dir: Path, address: str) -> tuple[str, frozenset[str]]:
    directory = make_secret_dir(state_dir)
    pinned = _checksummed(address, "address")
    pins = load_pins(directory) | {pinned}
    if len(pins) > MAX_PINS:
        raise InputError(f"at most {MAX_PINS} pinned addresses")
    write_secret_file(directory / PINS_FILE, json.dumps(sorted(pins), indent=1).encode() + b"\n")
    return pinned, pins


def require_firm_address(address: str | None, state_dir: Path, expected: Iterable[str]) -> str | None:
    """Refuse ``address`` unless it is pinned (state or ``--expect-address``); return a note when nothing
    is pinned at all."""
    allowed = load_pins(state_dir) | {_checksummed(e, "--expect-address") for e in expected}
    if not allowed:
        return UNPINNED_NOTE
    if address is None or to_checksum_address(parse_address(address)) not in allowed:
        raise PolicyError(
            f"the payload is signed by {address}, which is not a pinned firm address "
            f"({', '.join(sorted(allowed))[:200]}); nothing was sent"
        )
    return None
