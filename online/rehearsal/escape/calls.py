"""Calldata of the stand-in calls the rehearsal's freezer sends (standard Solidity ABI, one function each).

Only static words (uint256, bool, address), uint256[] and bytes are needed; the encoder refuses anything
else rather than guess. The relay has its own encoders; these exist so the rehearsal never depends on
them (the stand-ins and the relay are checked against each other, not built from each other).
"""

from __future__ import annotations

from collections.abc import Sequence

from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256

Argument = int | bool | str | bytes | Sequence[int]


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def _word(value: int) -> bytes:
    if not 0 <= value < 2**256:
        raise ValueError("an ABI word holds 0 to 2^256 - 1")
    return value.to_bytes(32, "big")


def encode_call(signature: str, *arguments: Argument) -> bytes:
    """Selector ‖ head ‖ tail. ``str`` is an address, ``bytes`` is ``bytes``, a sequence is ``uint256[]``."""
    heads: list[bytes] = []
    tails: list[bytes] = []
    dynamic_at = 32 * len(arguments)
    for argument in arguments:
        if isinstance(argument, bool):
            heads.append(_word(int(argument)))
        elif isinstance(argument, int):
            heads.append(_word(argument))
        elif isinstance(argument, str):
            heads.append(bytes(12) + parse_address(argument))
        else:
            if isinstance(argument, bytes):
                body = _word(len(argument)) + argument + bytes(-len(argument) % 32)
            else:
                body = _word(len(argument)) + b"".join(_word(word) for word in argument)
            heads.append(_word(dynamic_at + sum(len(tail) for tail in tails)))
            tails.append(body)
    return selector(signature) + b"".join(heads) + b"".join(tails)


def update_state(program_output: Sequence[int], application_data: Sequence[int]) -> bytes:
    return encode_call("updateState(uint256[],uint256[])", program_output, application_data)


def register_user_admin(admin: str) -> bytes:
    return encode_call("registerUserAdmin(address)", admin)


def register_user(eth_key: str, stark_key: int, signature: bytes) -> bytes:
    return encode_call("registerUser(address,uint256,bytes)", eth_key, stark_key, signature)


def forced_withdrawal_request(stark_key: int, position_id: int, amount: int) -> bytes:
    return encode_call(
        "forcedWithdrawalRequest(uint256,uint256,uint256,bool)", stark_key, position_id, amount, False
    )


def freeze_request(stark_key: int, position_id: int, amount: int) -> bytes:
    return encode_call("freezeRequest(uint256,uint256,uint256)", stark_key, position_id, amount)


def mint(recipient: str, amount: int) -> bytes:
    return encode_call("mint(address,uint256)", recipient, amount)


def view(signature: str, *arguments: Argument) -> bytes:
    """Calldata of a view (same encoding; the name says it is only ever eth_call'ed)."""
    return encode_call(signature, *arguments)
