"""The exact shape of each payload kind's body (the kinds themselves are listed in kinds.py).

Every body is checked field by field: required names, no extra names, types, and value formats. A kind
that carries a signed REST call names the exact method, path and body text that were signed, so the relay
can send those bytes unchanged (dYdX verifies the path and body byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dydx_airgap.shared.dydx_v3.variants import VARIANT_NAMES
from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.timestamps import parse_iso_ms
from dydx_airgap.shared.transport.age_recipient import SSH_ED25519, X25519, recipient_fingerprint

HEX64 = re.compile(r"0x[0-9a-f]{64}")
TYPED_SIG = re.compile(r"0x[0-9a-f]{132}")
UUIDISH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MAX_LADDER_RUNGS = 90

#: The Ethereum-key authenticated calls the cold side may sign, and how their paths look.
ETH_PRIVATE_ACTIONS: dict[str, tuple[str, re.Pattern[str]]] = {
    "api-key-create": ("POST", re.compile(r"/v3/api-keys")),
    "api-key-delete": ("DELETE", re.compile(rf"/v3/api-keys\?apiKey={UUIDISH}")),
    "recovery": ("GET", re.compile(r"/v3/recovery")),
}

Check = Callable[[str, Any], None]


def _fail(message: str) -> None:
    raise FormatError(message)


def _fields(body: Mapping[str, Any], what: str, spec: Mapping[str, Check]) -> None:
    extra = set(body) - set(spec)
    if extra:
        _fail(f"{what} body has unknown field(s): {', '.join(sorted(extra))[:80]}")
    for name, check in spec.items():
        if name not in body:
            _fail(f"{what} body lacks field {name!r}")
        check(f"{what}.{name}", body[name])


def string(pattern: re.Pattern[str] | None = None, max_len: int = 4096) -> Check:
    def check(where: str, value: Any) -> None:
        if not isinstance(value, str) or len(value) > max_len:
            _fail(f"{where} must be a string of at most {max_len} characters")
        if pattern is not None and not pattern.fullmatch(value):
            _fail(f"{where} has the wrong format")

    return check


def integer(low: int = 0, high: int = 2**256 - 1) -> Check:
    def check(where: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            _fail(f"{where} must be an integer from {low} to {high}")

    return check


def timestamp(where: str, value: Any) -> None:
    if not isinstance(value, str):
        _fail(f"{where} must be a timestamp string")
    parse_iso_ms(value)


def optional(check: Check) -> Check:
    def inner(where: str, value: Any) -> None:
        if value is not None:
            check(where, value)

    return inner


def one_of(*choices: str) -> Check:
    def check(where: str, value: Any) -> None:
        if value not in choices:
            _fail(f"{where} must be one of {', '.join(choices)}")

    return check


# --- public-key: what `derive` exports for one account ------------------------------------------------------


def public_key_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "public-key",
        {
            "account": integer(0, 2**31 - 1),
            "derivation_path": optional(string(re.compile(r"m(/\d+'?){1,10}"), 80)),
            "stark_public_key": string(HEX64),
            "stark_public_key_y": string(HEX64),
            "key_variant": one_of(*VARIANT_NAMES),
            "api_key": string(re.compile(UUIDISH)),
        },
    )


# --- onboarding-request: POST /v3/onboarding, signed with the "dYdX Onboarding" action ------------------


def onboarding_request_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "onboarding-request",
        {
            "account": integer(0, 2**31 - 1),
            "method": one_of("POST"),
            "request_path": one_of("/v3/onboarding"),
            "body": string(max_len=2048),
            "signature": string(TYPED_SIG),
            "stark_public_key": string(HEX64),
            "stark_public_key_y": string(HEX64),
        },
    )


# --- eth-private-request: a ladder of signatures of one call at successive timestamps -------------------


def _rung(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(value, where, {"timestamp": timestamp, "signature": string(TYPED_SIG)})


def _rungs(where: str, value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LADDER_RUNGS:
        _fail(f"{where} must be a list of 1 to {MAX_LADDER_RUNGS} signed timestamps")
    previous = None
    for i, rung in enumerate(value):
        _rung(f"{where}[{i}]", rung)
        moment = parse_iso_ms(rung["timestamp"])
        if previous is not None and moment <= previous:
            _fail(f"{where} timestamps must strictly increase")
        previous = moment


def eth_private_request_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "eth-private-request",
        {
            "action": one_of(*ETH_PRIVATE_ACTIONS),
            "method": one_of("POST", "DELETE", "GET"),
            "request_path": string(max_len=200),
            "body": one_of("{}"),
            "rungs": _rungs,
            "valid_from": timestamp,
            "valid_until": timestamp,
        },
    )
    method, path = ETH_PRIVATE_ACTIONS[body["action"]]
    if body["method"] != method or not path.fullmatch(body["request_path"]):
        _fail(
            f"eth-private-request: {body['method']} {body['request_path'][:60]} "
            f"is not allowed for {body['action']}"
        )
    if parse_iso_ms(body["valid_until"]) <= parse_iso_ms(body["valid_from"]):
        _fail("eth-private-request: valid_until must be after valid_from")


# --- time: the relay's view of the API's clock, for the cold side's offset (unsigned, informational) -----


def time_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "time",
        {"server_time": timestamp, "relay_time": timestamp, "source": string(max_len=200)},
    )


# --- tx-request (relay -> cold): an unsigned EIP-1559 transaction and the public facts behind it ---------

HEX_DATA = re.compile(r"0x(?:[0-9a-f]{2}){0,4096}")
ADDRESS_TEXT = re.compile(r"0x[0-9a-fA-F]{40}")
DECIMAL_AMOUNT = re.compile(r"(0|[1-9]\d{0,15})(\.\d{1,6})?")
TX_ACTIONS = ("register", "approve", "deposit")


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
            "value": integer(0, 2**256 - 1),
            "data": string(HEX_DATA, max_len=8194),
        },
    )


def _tx_context(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "stark_public_key": string(HEX64),
            "position_id": optional(string(re.compile(r"\d{1,20}"))),
            "amount": optional(string(DECIMAL_AMOUNT)),
            "base_fee_per_gas": integer(0, 2**128),
            "gas_estimate": optional(integer(0, 30_000_000)),
            "rpc": string(max_len=200),
        },
    )


def tx_request_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "tx-request",
        {"action": one_of(*TX_ACTIONS), "transaction": _transaction, "context": _tx_context},
    )


# --- signed-tx (cold -> relay): the raw signed transaction answering one tx-request -----------------------


def signed_tx_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "signed-tx",
        {
            "action": one_of(*TX_ACTIONS),
            "raw": string(HEX_DATA, max_len=8194 + 400),
            "tx_hash": string(HEX64),
            "request_sha256": string(re.compile(r"[0-9a-f]{64}")),
        },
    )


# --- sealed-credentials (cold -> trading host, through the relay): secrets sealed to an age recipient -------

#: The plaintext inside the age file: a JSON list, one object per account, in dydx-v3-python's Client shape.
HANDOFF_PLAINTEXT_FORMAT = "dydx-airgap-handoff/1"
#: A payload must fit the envelope's 64 KiB (and a reasonable number of QR frames): about 700 bytes a
#: sealed account, armored.
MAX_HANDOFF_ACCOUNTS = 32
AGE_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----\n"
AGE_ARMOR_END = "-----END AGE ENCRYPTED FILE-----\n"
KEY_VARIANT = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_ARMOR_BODY = re.compile(r"[A-Za-z0-9+/=\n]*")


def _handed_account(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        _fail(f"{where} must be an object")
    _fields(
        value,
        where,
        {
            "account": integer(0, 2**31 - 1),
            "address": string(ADDRESS_TEXT),
            "stark_public_key": string(HEX64),
            "key_variant": string(KEY_VARIANT),
            "api_key": string(re.compile(UUIDISH)),
        },
    )


def _handed_accounts(where: str, value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_HANDOFF_ACCOUNTS:
        _fail(f"{where} must be a list of 1 to {MAX_HANDOFF_ACCOUNTS} accounts")
    for i, item in enumerate(value):
        _handed_account(f"{where}[{i}]", item)
    indices = [item["account"] for item in value]
    if indices != sorted(set(indices)):
        _fail(f"{where} must list each account once, in increasing order")


def _age_armor(where: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) > 48 * 1024:
        _fail(f"{where} must be an age file in ASCII armor of at most 48 KiB")
    if not (value.startswith(AGE_ARMOR_BEGIN) and value.endswith(AGE_ARMOR_END)):
        _fail(f"{where} is not an age file in ASCII armor")
    if not _ARMOR_BODY.fullmatch(value[len(AGE_ARMOR_BEGIN) : -len(AGE_ARMOR_END)]):
        _fail(f"{where} holds characters outside base64")


def sealed_credentials_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "sealed-credentials",
        {
            "recipient": string(re.compile(r"age1[02-9ac-hj-np-z]{58}|ssh-ed25519 [A-Za-z0-9+/]{68}"), 100),
            "recipient_type": one_of(X25519, SSH_ED25519),
            "recipient_fingerprint": string(re.compile(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}")),
            "plaintext_format": one_of(HANDOFF_PLAINTEXT_FORMAT),
            "accounts": _handed_accounts,
            "age": _age_armor,
        },
    )
    expected_type = SSH_ED25519 if body["recipient"].startswith("ssh-") else X25519
    if body["recipient_type"] != expected_type:
        _fail("sealed-credentials: recipient_type does not match the recipient")
    if body["recipient_fingerprint"] != recipient_fingerprint(body["recipient"]):
        _fail("sealed-credentials: recipient_fingerprint is not the recipient's")
