"""Body shapes of the escape-hatch payload kinds (rows in kinds.py): ``escape-request`` and ``signed-escape``.

The request carries the proof words themselves (the cold side verifies them) and the transactions built
from them, including ``verifyEscape``'s ~9.6 kB of calldata, which the cold side rebuilds from the verified
proof and compares byte for byte. The envelope caps a payload at 64 KiB, which bounds the proof too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dydx_airgap.shared.transport.bodies import (
    ADDRESS_TEXT,
    HEX64,
    _fail,
    _fields,
    integer,
    one_of,
    optional,
    string,
)

#: The escape hatch's transactions, in the order they must be mined (depositCancel/Reclaim are independent).
ESCAPE_ACTIONS = ("verify-escape", "escape", "withdraw", "withdraw-to", "deposit-cancel", "deposit-reclaim")
MAX_STEPS = len(ESCAPE_ACTIONS)
#: verifyMerkle takes at most 402 proof words; a state update's shared state a few hundred.
MAX_PROOF_WORDS = 402
MAX_STATE_WORDS = 2000
WORD_HEX = re.compile(r"0x(?:0|[1-9a-f][0-9a-f]{0,63})")
DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_CALLDATA_HEX = re.compile(r"0x(?:[0-9a-f]{2})*")
_MAX_CALLDATA_CHARS = 2 + 2 * 32 * (6 + MAX_PROOF_WORDS + MAX_STATE_WORDS)
_RAW_HEX = re.compile(r"0x(?:[0-9a-f]{2})+")


def _word_list(max_words: int) -> Any:
    def check(where: str, value: Any) -> None:
        if not isinstance(value, list) or not 0 < len(value) <= max_words:
            _fail(f"{where} must be a list of 1 to {max_words} words")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not WORD_HEX.fullmatch(item):
                _fail(f"{where}[{index}] must be a minimal 0x-hex 256-bit word")

    return check


def _escape_data(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "stark_key": string(HEX64),
            "position_id": string(re.compile(r"\d{1,20}")),
            "n_assets": integer(0, 2**16 - 1),
            "merkle_proof": _word_list(MAX_PROOF_WORDS),
            "shared_state": _word_list(MAX_STATE_WORDS),
        },
    )


def _facts(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "rpc": string(max_len=200),
            "block_number": integer(0, 2**63),
            "frozen": _true,
            "registered_eth_key": optional(string(ADDRESS_TEXT)),
            "state_update_tx": string(HEX64),
            "state_update_block": integer(0, 2**63),
            "escape_used": _boolean,
            "fact_registered": _boolean,
            "pending_withdrawal": string(DECIMAL),
            "pending_deposit": string(DECIMAL),
            "base_fee_per_gas": integer(0, 2**128),
            "eth_balance": string(DECIMAL),
            "notes": _notes,
        },
    )


def _true(where: str, value: Any) -> None:
    # The relay refuses to prepare an escape against a contract that is not frozen.
    if value is not True:
        _fail(f"{where} must be true: the escape hatch opens only on a frozen contract")


def _boolean(where: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(f"{where} must be true or false")


def _notes(where: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) > 20:
        _fail(f"{where} must be a list of at most 20 notes")
    for index, note in enumerate(value):
        string(max_len=400)(f"{where}[{index}]", note)


def _step(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "action": one_of(*ESCAPE_ACTIONS),
            "transaction": _transaction,
            "gas_estimate": optional(integer(0, 30_000_000)),
            "gas_note": string(max_len=300),
        },
    )


def _transaction(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "chain_id": integer(1, 2**63),
            "nonce": integer(0, 2**63),
            "max_priority_fee_per_gas": integer(0, 2**128),
            "max_fee_per_gas": integer(0, 2**128),
            "gas_limit": integer(21000, 30_000_000),
            "to": string(ADDRESS_TEXT),
            "value": integer(0, 0),
            "data": string(_CALLDATA_HEX, max_len=_MAX_CALLDATA_CHARS),
        },
    )


def _steps(where: str, value: Any) -> None:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_STEPS:
        _fail(f"{where} must be a list of 1 to {MAX_STEPS} transactions")
    actions = [step.get("action") if isinstance(step, dict) else None for step in value]
    if len(set(actions)) != len(actions):
        _fail(f"{where} names an action twice")
    for index, step in enumerate(value):
        _step(f"{where}[{index}]", step)
    nonces = [step["transaction"]["nonce"] for step in value]
    if nonces != list(range(nonces[0], nonces[0] + len(nonces))):
        _fail(f"{where} must use consecutive nonces in order")


def escape_request_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "escape-request",
        {
            "escape": _escape_data,
            "source": string(max_len=300),
            "recipient": string(ADDRESS_TEXT),
            "facts": _facts,
            "steps": _steps,
        },
    )


def _signed(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "action": one_of(*ESCAPE_ACTIONS),
            "raw": string(_RAW_HEX, max_len=_MAX_CALLDATA_CHARS + 400),
            "tx_hash": string(HEX64),
        },
    )


def signed_escape_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "signed-escape",
        {
            "request_sha256": string(re.compile(r"[0-9a-f]{64}")),
            "transactions": _signed_list,
        },
    )


def _signed_list(where: str, value: Any) -> None:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_STEPS:
        _fail(f"{where} must be a list of 1 to {MAX_STEPS} signed transactions")
    for index, item in enumerate(value):
        _signed(f"{where}[{index}]", item)
