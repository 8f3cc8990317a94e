"""Why a call reverted, in words an operator can act on.

Contracts revert with ABI-encoded ``Error(string)`` (StarkEx's reasons are short upper-case strings such as
``INVALID_SIGNATURE``) or, for compiler-inserted checks, ``Panic(uint256)``. The decoder is strict about
offsets and lengths — revert data comes from the node and is untrusted — and anything it cannot read is
shown as "no reason given" rather than guessed at.
"""

from __future__ import annotations

from dydx_airgap.online.http import one_line
from dydx_airgap.online.onchain.rpc import RpcCallError
from dydx_airgap.shared.ethereum.keccak import keccak256

ERROR_SELECTOR = keccak256(b"Error(string)")[:4]
PANIC_SELECTOR = keccak256(b"Panic(uint256)")[:4]
_MAX_REASON_BYTES = 1024

# Solidity's panic codes (docs "Panic via assert and error conditions").
_PANICS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow",
    0x12: "division by zero",
    0x32: "array index out of bounds",
}

# What the reasons of StarkEx, the stand-in and common USDC implementations mean for the three calls.
_HINTS = (
    (
        "INVALID_SIGNATURE",
        "the registration signature is not by the contract's user admin: check --api and --network",
    ),
    ("STARK_KEY_UNAVAILABLE", "this STARK key is already registered (to this or another address)"),
    (
        "USER_UNREGISTERED",
        "the STARK key is not registered on chain yet: broadcast the register transaction first",
    ),
    ("INVALID_STARK_KEY", "the STARK key is not registered on chain (or not a curve point): register first"),
    ("INVALID_ASSET_TYPE", "the asset id is not the contract's collateral (USDC) asset"),
    ("OUT_OF_RANGE_POSITION_ID", "the position id is out of range"),
    (
        "EXCEEDS_ALLOWANCE",
        "the USDC allowance is too small: broadcast an approve for at least the amount first",
    ),
    ("EXCEEDS_BALANCE", "the address holds less USDC than the amount"),
    ("TOKEN_TRANSFER_FAILED", "the USDC transfer failed: check the balance and the allowance"),
)


def decode_revert_data(data: bytes) -> str | None:
    """The reason in ``Error(string)`` / ``Panic(uint256)`` revert data; None if there is none to read."""
    if data[:4] == PANIC_SELECTOR and len(data) == 36:
        code = int.from_bytes(data[4:], "big")
        return f"panic 0x{code:02x} ({_PANICS.get(code, 'compiler check failed')})"
    if data[:4] != ERROR_SELECTOR or len(data) < 4 + 64:
        return None
    body = data[4:]
    offset = int.from_bytes(body[:32], "big")
    if offset != 32:
        return None
    length = int.from_bytes(body[32:64], "big")
    if length > _MAX_REASON_BYTES or 64 + length > len(body):
        return None
    try:
        text = body[64 : 64 + length].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return one_line(text, 200)


def reason_of(error: RpcCallError) -> str:
    """The revert reason of a failed eth_call / eth_estimateGas, from its data or the node's message."""
    decoded = decode_revert_data(error.data_bytes())
    if decoded:
        return decoded
    message = error.node_message
    prefix = "execution reverted:"
    if message.lower().startswith(prefix):
        tail = message[len(prefix) :].strip()
        if tail:
            return tail
    return "no reason given" if error.reverted else message


def explain(reason: str) -> str:
    """``reason`` followed by what it means here, when we know."""
    for marker, hint in _HINTS:
        if marker in reason.upper().replace(" ", "_"):
            return f"{reason} ({hint})"
    return reason
