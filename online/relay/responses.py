"""Checks of the API's answers against dYdX's shapes (security.md T4: a malicious or broken API).

A 200 is not taken at its word: the onboarding answer must be for our address and our STARK key, a new API
key must look like one, a recovery answer must name a STARK key. Fields are copied out one by one, so
nothing unexpected (and no secret) travels further than this module by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dydx_airgap.online.relay.api_key_calls import API_KEY_ID
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.errors import AirgapError, RemoteError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.secret import Secret

_DECIMAL = re.compile(r"\d{1,30}")
_AMOUNT = re.compile(r"-?\d{1,40}(\.\d{1,18})?")
_HEX = re.compile(r"(0x)?[0-9a-fA-F]{1,64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MAX_SECRET = 200


def _fail(what: str, problem: str) -> RemoteError:
    return RemoteError(f"{what}: the API's answer {problem}")


def _obj(value: Any, what: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(what, f"has no '{name}' object")
    return value


def _text(value: Any, what: str, name: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or len(value) > _MAX_SECRET or (pattern and not pattern.fullmatch(value)):
        raise _fail(what, f"has a malformed '{name}'")
    return value


def api_credentials_from(data: Any, what: str) -> ApiCredentials:
    """``apiKey: {key, secret, passphrase}``, the secret parts wrapped at once."""
    api_key = _obj(_obj(data, what, "body").get("apiKey"), what, "apiKey")
    key = _text(api_key.get("key"), what, "apiKey.key", API_KEY_ID)
    secret = api_key.get("secret")
    passphrase = api_key.get("passphrase")
    if not isinstance(secret, str) or not 0 < len(secret) <= _MAX_SECRET:
        raise _fail(what, "has no usable apiKey.secret")
    if not isinstance(passphrase, str) or not 0 < len(passphrase) <= _MAX_SECRET:
        raise _fail(what, "has no usable apiKey.passphrase")
    return ApiCredentials(key=key, secret=Secret(secret), passphrase=Secret(passphrase))


@dataclass(frozen=True)
class OnboardingAnswer:
    credentials: ApiCredentials
    account_id: str
    position_id: str
    stark_key: str


def _stark_key_matches(text: str, expected: int) -> bool:
    return bool(_HEX.fullmatch(text)) and int(text[2:] if text.startswith("0x") else text, 16) == expected


def account_fields(account: dict[str, Any], what: str, stark_key: int | None) -> tuple[str, str, str]:
    """(account id, positionId, starkKey) of an account object, checked against the expected key."""
    account_id = _text(account.get("id"), what, "account.id", _UUID)
    position_id = _text(account.get("positionId"), what, "account.positionId", _DECIMAL)
    stark = _text(account.get("starkKey"), what, "account.starkKey", _HEX)
    if stark_key is not None and not _stark_key_matches(stark, stark_key):
        raise _fail(what, "is for another STARK key than the one in the payload")
    return account_id, position_id, f"0x{int(stark.removeprefix('0x'), 16):064x}"


def parse_onboarding_answer(data: Any, address: str, stark_key: int) -> OnboardingAnswer:
    what = "POST /v3/onboarding"
    credentials = api_credentials_from(data, what)
    user = _obj(data.get("user"), what, "user")
    user_address = user.get("ethereumAddress")
    try:
        ours = isinstance(user_address, str) and same_address(user_address, address)
    except AirgapError:
        ours = False
    if not ours:
        raise _fail(what, "is for another Ethereum address")
    account = _obj(data.get("account"), what, "account")
    account_id, position_id, stark = account_fields(account, what, stark_key)
    return OnboardingAnswer(credentials, account_id, position_id, stark)


def parse_recovery_answer(data: Any) -> dict[str, str]:
    what = "GET /v3/recovery"
    body = _obj(data, what, "body")
    result = {"starkKey": _text(body.get("starkKey"), what, "starkKey", _HEX)}
    result["positionId"] = _text(body.get("positionId"), what, "positionId", _DECIMAL)
    for name in ("equity", "freeCollateral", "quoteBalance"):
        if name in body:
            result[name] = _text(body.get(name), what, name, _AMOUNT)
    return result


def parse_deleted_key(data: Any, expected: str) -> None:
    what = "DELETE /v3/api-keys"
    if isinstance(data, dict) and "apiKey" in data and data["apiKey"] != expected:
        raise _fail(what, "names another key than the one deleted")
