"""The stand-in's genesis file: who holds what when the local chain starts (``serve-v4 --genesis``).

A JSON object; every key is optional except ``accounts``'s ``address``, unknown keys are refused (a typo
must not silently leave an account unfunded)::

    {"height": 41234000, "time_ms": 1767312000000, "next_account_number": 10,
     "next_authenticator_id": 0, "smart_account_active": true,
     "accounts": [{"address": "dydx1…", "account_number": 777, "sequence": 0,
                   "balances": [{"denom": "ibc/8E27…", "amount": "1000000000"}],
                   "subaccounts": [{"number": 0, "usdc_quantums": "5000000"}],
                   "authenticators": [{"id": 3, "type": "AllOf", "config_base64": "W3si…"}]}]}

Account numbers not given are assigned in order from ``next_account_number``, as the chain assigns them
when an address first receives funds. Authenticators are stored as given (the real chain's genesis does
the same); ``next_authenticator_id`` is raised above every id listed so the global counter never repeats one.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from dydx_airgap.shared.dydx_v4.address import is_address
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.messages import MAX_SUBACCOUNT_NUMBER
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import read_untrusted_file

from .state import Account, Authenticator, ChainState

MAX_GENESIS_BYTES = 4 << 20
DEFAULT_HEIGHT = 1
_TOP_KEYS = {
    "height",
    "time_ms",
    "next_account_number",
    "next_authenticator_id",
    "smart_account_active",
    "accounts",
}
_ACCOUNT_KEYS = {"address", "account_number", "sequence", "balances", "subaccounts", "authenticators"}


def _int(value: object, what: str, low: int = 0, high: int = 2**64 - 1) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"genesis: {what} must be an integer from {low} to {high}")
    return value


def _object(value: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"genesis: {what} must be a JSON object")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise InputError(f"genesis: {what} has unknown key(s) {', '.join(map(repr, unknown))}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"genesis: {what} must be a JSON array")
    return value


def apply_genesis(state: ChainState, document: object) -> ChainState:
    top = _object(document, _TOP_KEYS, "the file")
    if "height" in top:
        state.height = _int(top["height"], "height", 1, 2**62)
    if "time_ms" in top:
        state.time_ms = _int(top["time_ms"], "time_ms", 0, 2**62)
    if "next_account_number" in top:
        state.next_account_number = _int(top["next_account_number"], "next_account_number")
    if "next_authenticator_id" in top:
        state.next_authenticator_id = _int(top["next_authenticator_id"], "next_authenticator_id")
    if "smart_account_active" in top:
        if not isinstance(top["smart_account_active"], bool):
            raise InputError("genesis: smart_account_active must be true or false")
        state.smart_account_active = top["smart_account_active"]
    numbers = {a.number for a in state.accounts.values()}
    for index, raw in enumerate(_list(top.get("accounts", []), "accounts")):
        what = f"accounts[{index}]"
        entry = _object(raw, _ACCOUNT_KEYS, what)
        address = entry.get("address")
        if not is_address(address):
            raise InputError(f"genesis: {what}.address is not a dydx1… address")
        assert isinstance(address, str)
        if address in state.accounts:
            raise InputError(f"genesis: {what}: {address} is listed twice")
        if "account_number" in entry:
            number = _int(entry["account_number"], f"{what}.account_number")
        else:
            number = state.next_account_number
        if number in numbers:
            raise InputError(f"genesis: {what}: account number {number} is taken")
        numbers.add(number)
        state.next_account_number = max(state.next_account_number, number + 1)
        state.accounts[address] = Account(number, _int(entry.get("sequence", 0), f"{what}.sequence"))
        for j, coin in enumerate(_list(entry.get("balances", []), f"{what}.balances")):
            c = _object(coin, {"denom", "amount"}, f"{what}.balances[{j}]")
            try:
                parsed = Coin(
                    str(c.get("denom")), _int(c.get("amount"), f"{what}.balances[{j}].amount", 0, 2**256 - 1)
                )
            except InputError as exc:
                raise InputError(f"genesis: {what}.balances[{j}]: {exc.message}") from None
            state.balances.setdefault(address, {})[parsed.denom] = parsed.amount
        for j, sub in enumerate(_list(entry.get("subaccounts", []), f"{what}.subaccounts")):
            s = _object(sub, {"number", "usdc_quantums"}, f"{what}.subaccounts[{j}]")
            n = _int(s.get("number"), f"{what}.subaccounts[{j}].number", 0, MAX_SUBACCOUNT_NUMBER)
            state.subaccounts[(address, n)] = _int(
                s.get("usdc_quantums", 0), f"{what}.subaccounts[{j}].usdc_quantums"
            )
        for j, auth in enumerate(_list(entry.get("authenticators", []), f"{what}.authenticators")):
            a = _object(auth, {"id", "type", "config_base64"}, f"{what}.authenticators[{j}]")
            ident = _int(a.get("id"), f"{what}.authenticators[{j}].id")
            if not isinstance(a.get("type"), str):
                raise InputError(f"genesis: {what}.authenticators[{j}].type must be a string")
            try:
                config = base64.b64decode(str(a.get("config_base64", "")), validate=True)
            except binascii.Error:
                raise InputError(f"genesis: {what}.authenticators[{j}].config_base64 is not base64") from None
            state.authenticators.setdefault(address, {})[ident] = Authenticator(ident, a["type"], config)
            state.next_authenticator_id = max(state.next_authenticator_id, ident + 1)
    return state


def load_genesis(state: ChainState, path: Path) -> ChainState:
    try:
        text = read_untrusted_file(path, MAX_GENESIS_BYTES).decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"genesis file {path} is not UTF-8 JSON") from None
    return apply_genesis(state, document)
