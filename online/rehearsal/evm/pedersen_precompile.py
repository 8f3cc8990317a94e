"""A host precompile for StarkWare's Pedersen hash, on the local rehearsal chain only.

The deployed escape verifier evaluates Pedersen with 63 lookup-table contracts and EVM elliptic-curve
arithmetic (spec escape-hatch.md §A4: ~2.4 M gas per proof). Rebuilding those tables in Vyper would
add a second, unreviewed Pedersen implementation; instead the stand-in verifier staticcalls this
precompile, which computes H(a, b) with the project's own ``shared/stark/pedersen.py`` (the code the
cross-check compares with cairo-lang).

Interface (fixed, documented in README's rehearsal section):

* address ``PEDERSEN_PRECOMPILE_ADDRESS`` = 0x0000000000000000000000000000000000E5CA9E, far above the
  Ethereum precompiles (0x01-0x11 in Prague; 0x100 is taken by RIP-7212 on some chains), so it can never
  collide with a future mainnet one;
* input exactly 64 bytes: a (32 bytes, big-endian) followed by b (32 bytes, big-endian);
* output 32 bytes: H(a, b), big-endian;
* a fixed cost of ``PEDERSEN_GAS`` per call, charged before anything else, so the mainnet vector's
  verifyEscape costs about what the compiled contract costs (the relay's gas estimate stays realistic);
* any other input length, an input at or above the field prime, or an input the StarkEx AIR cannot hash
  reverts (gas is kept, the revert data is an ``Error(string)``), unlike a mainnet precompile that burns
  all gas: the verifier range-checks before calling, so a revert here means a stand-in bug, and a reason
  makes it readable.

Only the local chain's VM class registers it (``LOCAL_PRECOMPILES``); py-evm's ``PragueVM`` itself is
untouched, so nothing else in the process sees the address as special.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import Revert
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from dydx_airgap.shared.stark.pedersen import pedersen_hash

PEDERSEN_PRECOMPILE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000e5ca9e")
PEDERSEN_GAS = 30_000
_INPUT_BYTES = 64
_ERROR_SELECTOR = keccak256(b"Error(string)")[:4]


def _revert(computation: ComputationAPI, reason: str) -> None:
    encoded = reason.encode()
    padded = encoded + bytes(-len(encoded) % 32)
    data = _ERROR_SELECTOR + (32).to_bytes(32, "big") + len(encoded).to_bytes(32, "big") + padded
    computation.output = data
    raise Revert(data)


def pedersen_precompile(computation: ComputationAPI) -> ComputationAPI:
    """py-evm precompile entry point: consume the gas, hash, or revert with a reason."""
    computation.consume_gas(PEDERSEN_GAS, reason="Pedersen precompile (local rehearsal chain)")
    data = computation.msg.data_as_bytes
    if len(data) != _INPUT_BYTES:
        _revert(computation, f"Pedersen precompile: input must be 64 bytes, got {len(data)}")
    a = int.from_bytes(data[:32], "big")
    b = int.from_bytes(data[32:], "big")
    if a >= FIELD_PRIME or b >= FIELD_PRIME:
        _revert(computation, "Pedersen precompile: input not below the field prime")
    try:
        digest = pedersen_hash(a, b)
    except InputError:
        _revert(computation, "Pedersen precompile: unhashable input")
    computation.output = digest.to_bytes(32, "big")
    return computation


#: Prague's precompiles plus the Pedersen one: what the local chain's computation class serves.
LOCAL_PRECOMPILES: dict[Any, Callable[[ComputationAPI], ComputationAPI]] = {
    **PRAGUE_PRECOMPILES,
    PEDERSEN_PRECOMPILE_ADDRESS: pedersen_precompile,
}
