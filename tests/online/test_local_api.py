"""The local dYdX-v3-compatible API, exercised over real HTTP on 127.0.0.1.

Requests are signed here independently of the server's code: EIP-712 through eth-account's generic
encoder, eth_sign and personal_sign through eth-account, STARK public keys through fastecdsa with the
spec's curve constants, registration signatures recovered with eth-keys. dYdX's own Python client
(dydx-v3-python 2.1.0) runs unchanged against the server in its own virtualenv.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_keys import keys as eth_keys
from eth_utils import keccak
from fastecdsa.curve import Curve

from dydx_airgap.online.rehearsal.v3_api import (
    Fault,
    FaultPlan,
    LocalApiHandle,
    ScheduledFault,
    parse_fault_spec,
    start_local_api,
)
from dydx_airgap.shared.errors import InputError
from tests.conftest import REPO, kit_vectors

CHAIN = 11155111
FIXED = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
DYDX_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")

# The STARK curve (spec dydx-v3.md §4.3 item 5), for making valid public keys in tests.
STARK_P = 2**251 + 17 * 2**192 + 1
STARK_BETA = 0x06F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
STARK = Curve(
    "stark",
    STARK_P,
    1,
    STARK_BETA,
    0x0800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F,
    0x01EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA,
    0x005668060AA49730B7BE4801DF46EC62DE53ECD11ABE43A32873000C36E8DC1F,
)


def stark_public(private: int) -> tuple[int, int]:
    point = private * STARK.G
    return point.x, point.y


def eth_key(n: int) -> str:
    return "0x" + f"{n:064x}"


def address_of(key: str) -> str:
    return Account.from_key(key).address


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"errors"}, body
    return body["errors"]


def msg_of(response: httpx.Response) -> str:
    return errors_of(response)[0]["msg"]


# ---- signing, independent of the server's code ----


def typed_data(chain_id: int, message: dict[str, str]) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "dYdX": [{"name": name, "type": "string"} for name in message],
        },
        "domain": {"name": "dYdX", "version": "1.0", "chainId": chain_id},
        "primaryType": "dYdX",
        "message": message,
    }


def onboarding_message(chain_id: int) -> dict[str, str]:
    if chain_id == 1:
        return {"action": "dYdX Onboarding", "onlySignOn": "https://trade.dydx.exchange"}
    return {"action": "dYdX Onboarding"}


def sign_typed(key: str, chain_id: int, message: dict[str, str], sig_type: int = 0) -> str:
    """A dYdX typed signature: 00 raw EIP-712, 01 eth_sign of the digest, 02 eth_sign with a binary
    length byte, 03 personal_sign of the pretty JSON."""
    full = typed_data(chain_id, message)
    signable = encode_typed_data(full_message=full)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    if sig_type == 0:
        signed = Account.sign_message(signable, key)
    elif sig_type == 1:
        signed = Account.sign_message(encode_defunct(primitive=digest), key)
    elif sig_type == 2:
        signed = Account.unsafe_sign_hash(keccak(b"\x19Ethereum Signed Message:\n\x20" + digest), key)
    else:
        pretty = {"name": "dYdX", "version": "1.0", "chainId": chain_id}
        pretty.update(sorted(message.items()))
        signed = Account.sign_message(encode_defunct(text=json.dumps(pretty, indent=2)), key)
    return "0x" + bytes(signed.signature).hex() + f"{sig_type:02x}"


def default_credentials(onboarding_signature: str) -> dict[str, str]:
    """dYdX's default API credentials, recomputed here from r and s (spec dydx-v3.md §5)."""
    raw = bytes.fromhex(onboarding_signature[2:])
    r_hash, s_hash = keccak(raw[:32]), keccak(raw[32:64])
    k = s_hash[:16].hex()
    return {
        "key": f"{k[:8]}-{k[8:12]}-{k[12:16]}-{k[16:20]}-{k[20:]}",
        "secret": base64.urlsafe_b64encode(r_hash[:30]).decode(),
        "passphrase": base64.urlsafe_b64encode(s_hash[16:31]).decode(),
    }


def hmac_signature(secret: str, message: str, alphabet: str = "urlsafe") -> str:
    mac = hmac.new(base64.urlsafe_b64decode(secret), message.encode(), hashlib.sha256).digest()
    return (base64.urlsafe_b64encode if alphabet == "urlsafe" else base64.b64encode)(mac).decode()


# ---- a small client ----


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class Api:
    def __init__(self, url: str, clock: FixedClock | None = None, timeout: float = 10.0) -> None:
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.clock = clock

    def close(self) -> None:
        self.http.close()

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(UTC)

    def onboard(
        self,
        key: str,
        stark: tuple[int, int],
        *,
        chain_id: int = CHAIN,
        sig_type: int = 0,
        signature: str | None = None,
        body: str | None = None,
        address: str | None = None,
    ) -> tuple[httpx.Response, str]:
        sig = signature or sign_typed(key, chain_id, onboarding_message(chain_id), sig_type)
        if body is None:
            body = json.dumps({"starkKey": hex(stark[0]), "starkKeyYCoordinate": hex(stark[1])})
        headers = {"DYDX-SIGNATURE": sig, "DYDX-ETHEREUM-ADDRESS": address or address_of(key)}
        response = self.http.post(
            "/v3/onboarding", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        return response, sig

    def eth_private(
        self,
        key: str,
        method: str,
        path: str,
        *,
        chain_id: int = CHAIN,
        sig_type: int = 0,
        timestamp: str | None = None,
        signed_method: str | None = None,
        signed_path: str | None = None,
        signed_body: str = "{}",
        sent_body: str = "{}",
        address: str | None = None,
    ) -> httpx.Response:
        ts = timestamp or iso(self.now())
        message = {
            "method": signed_method or method,
            "requestPath": signed_path or path,
            "body": signed_body,
            "timestamp": ts,
        }
        headers = {
            "DYDX-SIGNATURE": sign_typed(key, chain_id, message, sig_type),
            "DYDX-TIMESTAMP": ts,
            "DYDX-ETHEREUM-ADDRESS": address or address_of(key),
        }
        return self.http.request(method, path, content=sent_body.encode(), headers=headers)

    def private(
        self,
        creds: dict[str, str],
        method: str,
        path: str,
        *,
        sent_body: str = "",
        signed_body: str | None = None,
        signed_path: str | None = None,
        timestamp: str | None = None,
        alphabet: str = "urlsafe",
        passphrase: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = timestamp or iso(self.now())
        message = ts + method + (signed_path or path) + (sent_body if signed_body is None else signed_body)
        all_headers = {
            "DYDX-SIGNATURE": hmac_signature(creds["secret"], message, alphabet),
            "DYDX-API-KEY": creds["key"],
            "DYDX-TIMESTAMP": ts,
            "DYDX-PASSPHRASE": creds["passphrase"] if passphrase is None else passphrase,
            **(headers or {}),
        }
        return self.http.request(method, path, content=sent_body.encode(), headers=all_headers)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIXED)


@pytest.fixture
def server(clock: FixedClock) -> Iterator[LocalApiHandle]:
    handle = start_local_api(chain_id=CHAIN, clock=clock)
    yield handle
    handle.stop()


@pytest.fixture
def api(server: LocalApiHandle, clock: FixedClock) -> Iterator[Api]:
    client = Api(server.url, clock)
    yield client
    client.close()


KEY1, KEY2, KEY3 = eth_key(0xA11CE), eth_key(0xB0B), eth_key(0xCA401)
STARK1, STARK2, STARK3, STARK4 = (stark_public(k) for k in (0x51, 0x52, 0x53, 0x54))
UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def onboarded(api: Api, key: str, stark: tuple[int, int]) -> dict[str, Any]:
    response, _ = api.onboard(key, stark)
    assert response.status_code == 200, response.text
    return response.json()


def test_stark_helper_matches_the_reference_vectors() -> None:
    for v in kit_vectors()[:2]:
        x, y = stark_public(int(v["stark_private_key"], 16))
        assert (x, y) == (int(v["stark_public_key"], 16), int(v["stark_public_key_y_coordinate"], 16))


def test_public_endpoints_and_error_envelopes(api: Api) -> None:
    time = api.http.get("/v3/time").json()
    assert time == {"iso": "2026-01-02T03:04:05.678Z", "epoch": pytest.approx(FIXED.timestamp(), abs=1e-6)}

    address = address_of(KEY1)
    assert api.http.get(f"/v3/users/exists?ethereumAddress={address}").json() == {"exists": False}
    onboarded(api, KEY1, STARK1)
    for spelled in (address, address.lower()):
        assert api.http.get(f"/v3/users/exists?ethereumAddress={spelled}").json() == {"exists": True}
    # A mixed-case address with a wrong checksum is a typo, not another user.
    i = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    typo = address[:i] + address[i].swapcase() + address[i + 1 :]
    bad = api.http.get(f"/v3/users/exists?ethereumAddress={typo}")
    assert bad.status_code == 400
    assert errors_of(bad)[0] | {"value": None} == {
        "value": None,
        "msg": "Invalid value",
        "param": "ethereumAddress",
        "location": "query",
    }
    assert api.http.get("/v3/users/exists").status_code == 400

    missing = api.http.get("/v3/markets")
    assert (missing.status_code, msg_of(missing)) == (404, "Not Found")
    wrong_method = api.http.put("/v3/time")
    assert (wrong_method.status_code, msg_of(wrong_method)) == (405, "Method Not Allowed")
    unauthenticated = api.http.get("/v3/users")
    assert (unauthenticated.status_code, msg_of(unauthenticated)) == (401, "Unauthorized")


def test_onboarding_creates_user_account_and_default_key(api: Api, server: LocalApiHandle) -> None:
    response, signature = api.onboard(KEY1, STARK1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"apiKey", "user", "account"}
    assert body["apiKey"] == default_credentials(signature)

    address = address_of(KEY1).lower()
    user = body["user"]
    assert user["ethereumAddress"] == address
    assert user["isRegistered"] is False
    for field in ("makerFeeRate", "takerFeeRate", "makerVolume30D", "takerVolume30D", "fees30D"):
        assert re.fullmatch(r"\d+(\.\d+)?", user[field]), field
    assert user["userData"] == {}

    account = body["account"]
    assert int(account["starkKey"], 16) == STARK1[0]
    assert account["positionId"] == "1"
    assert account["accountNumber"] == "0"
    user_uuid = uuid.uuid5(DYDX_NAMESPACE, address)
    assert account["id"] == str(uuid.uuid5(DYDX_NAMESPACE, str(user_uuid) + "0"))
    for field in ("equity", "freeCollateral", "quoteBalance", "pendingDeposits", "pendingWithdrawals"):
        assert account[field] == "0"
    assert account["createdAt"] == "2026-01-02T03:04:05.678Z"
    assert account["openPositions"] == {}

    # The default key works for HMAC calls straight away.
    keys = api.private(body["apiKey"], "GET", "/v3/api-keys")
    assert keys.json() == {"apiKeys": [body["apiKey"]["key"]]}
    stats = api.http.get("/v3/local/stats").json()
    assert stats["accepted"]["onboarding"] == 1
    assert stats["faults"] == []


@pytest.mark.parametrize("sig_type", [1, 3])
def test_onboarding_accepts_v3_client_signatures_and_body(api: Api, sig_type: int) -> None:
    # v3-client: compact JSON, 64 hex digits without 0x, eth_sign (01) or personal_sign (03).
    body = json.dumps(
        {"starkKey": f"{STARK2[0]:064x}", "starkKeyYCoordinate": f"{STARK2[1]:064X}", "country": "sg"},
        separators=(",", ":"),
    )
    response, signature = api.onboard(KEY2, STARK2, sig_type=sig_type, body=body)
    assert response.status_code == 200, response.text
    assert response.json()["apiKey"] == default_credentials(signature)
    assert response.json()["user"]["country"] == "SG"


def test_onboarding_refusals(api: Api) -> None:
    invalid = "Invalid signature for onboarding request"
    wrong_chain, _ = api.onboard(KEY1, STARK1, chain_id=1)
    assert (wrong_chain.status_code, msg_of(wrong_chain)) == (400, invalid)
    other_signer, _ = api.onboard(KEY2, STARK1, address=address_of(KEY1))
    assert (other_signer.status_code, msg_of(other_signer)) == (400, invalid)
    malformed, _ = api.onboard(KEY1, STARK1, signature="0x1234")
    assert (malformed.status_code, msg_of(malformed)) == (400, invalid)
    no_address = api.http.post("/v3/onboarding", headers={"DYDX-SIGNATURE": "0x00"}, content="{}")
    assert no_address.status_code == 400
    assert errors_of(no_address)[0]["param"] == "DYDX-ETHEREUM-ADDRESS"
    # Type 02 (eth_sign with a binary length byte) is a valid signature, but not one dYdX took.
    hexadecimal, _ = api.onboard(KEY1, STARK1, sig_type=2)
    assert (hexadecimal.status_code, msg_of(hexadecimal)) == (400, invalid)

    def bad_body(body: str) -> httpx.Response:
        response, _ = api.onboard(KEY1, STARK1, body=body)
        assert response.status_code == 400, (body, response.text)
        return response

    off_curve = bad_body(json.dumps({"starkKey": hex(STARK1[0]), "starkKeyYCoordinate": hex(STARK1[1] + 1)}))
    assert errors_of(off_curve)[0]["param"] == "starkKeyYCoordinate"
    too_big = bad_body(json.dumps({"starkKey": hex(STARK_P), "starkKeyYCoordinate": hex(STARK1[1])}))
    assert errors_of(too_big)[0]["param"] == "starkKey"
    assert errors_of(bad_body(json.dumps({"starkKeyYCoordinate": hex(STARK1[1])})))[0]["param"] == "starkKey"
    assert errors_of(bad_body(json.dumps({"starkKey": "xyz", "starkKeyYCoordinate": "1"})))[0]["param"] == (
        "starkKey"
    )
    assert msg_of(bad_body("not json")) == "Request body must be a JSON object"
    assert msg_of(bad_body("[1, 2]")) == "Request body must be a JSON object"

    assert api.http.get(f"/v3/users/exists?ethereumAddress={address_of(KEY1)}").json() == {"exists": False}
    onboarded(api, KEY1, STARK1)
    again, _ = api.onboard(KEY1, STARK1)
    assert (again.status_code, msg_of(again)) == (409, "User already exists")
    stolen_stark_key, _ = api.onboard(KEY2, STARK1)
    assert (stolen_stark_key.status_code, msg_of(stolen_stark_key)) == (
        409,
        "starkKey is already registered to another user",
    )
    stats = api.http.get("/v3/local/stats").json()
    assert stats["accepted"]["onboarding"] == 1
    assert stats["rejected"]["onboarding"] == 13


def test_api_key_lifecycle(api: Api) -> None:
    default = onboarded(api, KEY1, STARK1)["apiKey"]
    created = api.eth_private(KEY1, "POST", "/v3/api-keys")
    assert created.status_code == 200, created.text
    new = created.json()["apiKey"]
    assert set(new) == {"key", "secret", "passphrase"}
    assert UUID_SHAPE.fullmatch(new["key"])
    assert len(base64.urlsafe_b64decode(new["secret"])) == 30
    assert len(base64.urlsafe_b64decode(new["passphrase"])) == 15
    assert new["key"] != default["key"]

    assert api.private(new, "GET", "/v3/api-keys").json() == {"apiKeys": [default["key"], new["key"]]}
    deleted = api.eth_private(KEY1, "DELETE", f"/v3/api-keys?apiKey={default['key']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"apiKey": default["key"]}
    gone = api.private(default, "GET", "/v3/api-keys")
    assert (gone.status_code, msg_of(gone)) == (401, "API key not found")

    last = api.eth_private(KEY1, "DELETE", f"/v3/api-keys?apiKey={new['key']}")
    assert (last.status_code, msg_of(last)) == (400, "Cannot delete the last API key of a user")
    unknown = api.eth_private(KEY1, "DELETE", f"/v3/api-keys?apiKey={default['key']}")
    assert (unknown.status_code, msg_of(unknown)) == (404, "API key not found")
    no_param = api.eth_private(KEY1, "DELETE", "/v3/api-keys")
    assert (no_param.status_code, errors_of(no_param)[0]["param"]) == (400, "apiKey")

    # Another user cannot delete this user's key, even with a valid signature of their own.
    onboarded(api, KEY2, STARK2)
    foreign = api.eth_private(KEY2, "DELETE", f"/v3/api-keys?apiKey={new['key']}")
    assert foreign.status_code == 404

    for _ in range(19):
        assert api.eth_private(KEY1, "POST", "/v3/api-keys").status_code == 200
    over = api.eth_private(KEY1, "POST", "/v3/api-keys")
    assert (over.status_code, msg_of(over)) == (400, "A user can have at most 20 API keys")
    assert len(api.private(new, "GET", "/v3/api-keys").json()["apiKeys"]) == 20


@pytest.mark.parametrize("sig_type", [1, 3])
def test_eth_private_accepts_v3_client_signatures_without_body(api: Api, sig_type: int) -> None:
    onboarded(api, KEY1, STARK1)
    # v3-client signs body "{}" and sends no body at all.
    created = api.eth_private(KEY1, "POST", "/v3/api-keys", sig_type=sig_type, sent_body="")
    assert created.status_code == 200, created.text
    recovery = api.eth_private(KEY1, "GET", "/v3/recovery", sig_type=sig_type, sent_body="")
    assert recovery.status_code == 200, recovery.text


def test_eth_private_refusals_and_timestamp_window(api: Api) -> None:
    onboarded(api, KEY1, STARK1)
    onboarded(api, KEY2, STARK2)
    window = "DYDX-TIMESTAMP must be within 30 seconds of the server time"
    for offset_ms, status in ((-30000, 200), (30000, 200), (-30001, 401), (30001, 401)):
        ts = iso(FIXED + timedelta(milliseconds=offset_ms))
        response = api.eth_private(KEY1, "GET", "/v3/recovery", timestamp=ts)
        assert response.status_code == status, (offset_ms, response.text)
        if status == 401:
            assert msg_of(response) == window

    bad_format = api.eth_private(KEY1, "GET", "/v3/recovery", timestamp="2026-01-02T03:04:05Z")
    assert (bad_format.status_code, errors_of(bad_format)[0]["param"]) == (400, "DYDX-TIMESTAMP")

    invalid = "Invalid signature for Ethereum-key request"
    cases = [
        {"signed_path": "/v3/api-keys?apiKey=other"},
        {"signed_method": "GET"},
        {"chain_id": 1},
        {"address": address_of(KEY2)},
        {"signed_body": '{"x":1}'},
        {"sig_type": 2},
    ]
    for case in cases:
        response = api.eth_private(KEY1, "POST", "/v3/api-keys", **case)
        assert (response.status_code, msg_of(response)) == (401, invalid), case

    no_signature = api.http.post(
        "/v3/api-keys", headers={"DYDX-TIMESTAMP": iso(FIXED), "DYDX-ETHEREUM-ADDRESS": address_of(KEY1)}
    )
    assert (no_signature.status_code, msg_of(no_signature)) == (401, "Unauthorized")
    stranger = api.eth_private(KEY3, "POST", "/v3/api-keys")
    assert (stranger.status_code, msg_of(stranger)) == (404, "User not found")

    recovery = api.eth_private(KEY1, "GET", "/v3/recovery")
    assert recovery.json() == {
        "starkKey": f"{STARK1[0]:064x}",
        "positionId": "1",
        "equity": "0",
        "freeCollateral": "0",
        "quoteBalance": "0",
        "positions": [],
    }


def test_put_users_sets_the_profile_and_refuses_each_malformed_field(api: Api) -> None:
    creds = onboarded(api, KEY1, STARK1)["apiKey"]

    def put(body: dict[str, Any]) -> httpx.Response:
        return api.private(creds, "PUT", "/v3/users", sent_body=json.dumps(body, separators=(",", ":")))

    done = put({"email": "a@b.io", "userData": json.dumps({"k": [1]}), "languageCode": "zh-CN"})
    assert done.status_code == 200, done.text
    user = api.private(creds, "GET", "/v3/users").json()["user"]
    assert (user["email"], user["userData"], user["languageCode"]) == ("a@b.io", {"k": [1]}, "zh-CN")
    assert user["username"] is None  # fields not sent stay as they were
    assert put({"username": "desk_2"}).json()["user"]["email"] == "a@b.io"
    for body, param in [
        ({"email": "no-at-sign"}, "email"),
        ({"username": "has space"}, "username"),
        ({"isSharingAddress": "yes"}, "isSharingAddress"),
        ({"userData": "[1, 2]"}, "userData"),
        ({"userData": "{not json"}, "userData"),
        ({"country": "SGP"}, "country"),
        ({"languageCode": "english"}, "languageCode"),
        ({"isAdmin": True}, "isAdmin"),
    ]:
        refused = put(body)
        assert (refused.status_code, errors_of(refused)[0]["param"]) == (400, param), (body, refused.text)
    assert api.private(creds, "GET", "/v3/users").json()["user"]["username"] == "desk_2"


def test_api_key_hmac_rules(api: Api) -> None:
    creds = onboarded(api, KEY1, STARK1)["apiKey"]
    assert api.private(creds, "GET", "/v3/users").status_code == 200

    # Find a timestamp whose HMAC differs between the two base64 alphabets, so both are really tested.
    for ms in range(1000):
        ts = iso(FIXED - timedelta(milliseconds=ms))
        if re.search("[+/]", hmac_signature(creds["secret"], ts + "GET/v3/users", "standard")):
            break
    for alphabet in ("urlsafe", "standard"):
        response = api.private(creds, "GET", "/v3/users", timestamp=ts, alphabet=alphabet)
        assert response.status_code == 200, (alphabet, response.text)

    def refused(response: httpx.Response, msg: str = "Unauthorized") -> None:
        assert (response.status_code, msg_of(response)) == (401, msg), response.text

    refused(api.private(creds, "GET", "/v3/users", passphrase="x" + creds["passphrase"][1:]))
    refused(api.private({**creds, "key": str(uuid.uuid4())}, "GET", "/v3/users"), "API key not found")
    refused(api.private(creds, "GET", "/v3/users", signed_path="/v3/api-keys"))
    refused(
        api.private(creds, "GET", "/v3/users", timestamp=iso(FIXED - timedelta(seconds=31))),
        "DYDX-TIMESTAMP must be within 30 seconds of the server time",
    )
    no_passphrase = api.http.get(
        "/v3/users",
        headers={"DYDX-SIGNATURE": "x", "DYDX-API-KEY": creds["key"], "DYDX-TIMESTAMP": iso(FIXED)},
    )
    refused(no_passphrase)
    bad_account = api.private(creds, "GET", "/v3/users", headers={"DYDX-ACCOUNT-NUMBER": "abc"})
    assert (bad_account.status_code, errors_of(bad_account)[0]["param"]) == (400, "DYDX-ACCOUNT-NUMBER")

    # The request path is checked exactly as it arrived: percent-encoding is not undone.
    assert api.private(creds, "GET", "/v3/accounts?x=a%20b&y=%5B1%5D").status_code == 200
    refused(
        api.private(creds, "GET", "/v3/accounts?x=a%20b&y=%5B1%5D", signed_path="/v3/accounts?x=a b&y=[1]")
    )
    refused(api.private(creds, "GET", "/v3/accounts?y=%5B1%5D", signed_path="/v3/accounts?y=%5b1%5d"))

    # dydx-v3-python sends "{}" on GET but signs "" (it signs no body when there is no data).
    assert api.private(creds, "GET", "/v3/users", sent_body="{}", signed_body="").status_code == 200

    # ... and signs compact JSON but sends json.dumps' spaced JSON: both spellings verify.
    data = {"starkKey": hex(STARK2[0]), "starkKeyYCoordinate": hex(STARK2[1])}
    spaced, compact = json.dumps(data), json.dumps(data, separators=(",", ":"))
    assert spaced != compact
    dydx3_style = api.private(creds, "POST", "/v3/accounts", sent_body=spaced, signed_body=compact)
    assert dydx3_style.status_code == 200, dydx3_style.text
    data3 = {"starkKey": hex(STARK3[0]), "starkKeyYCoordinate": hex(STARK3[1])}
    raw_signed = api.private(creds, "POST", "/v3/accounts", sent_body=json.dumps(data3))
    assert raw_signed.status_code == 200, raw_signed.text
    data4 = {"starkKey": hex(STARK4[0]), "starkKeyYCoordinate": hex(STARK4[1])}
    refused(api.private(creds, "POST", "/v3/accounts", sent_body=json.dumps(data4), signed_body=compact))
    assert len(api.private(creds, "GET", "/v3/accounts").json()["accounts"]) == 3


def recover_registration_signer(signature: str, address: str, stark_key: int) -> str:
    raw = bytes.fromhex(signature.removeprefix("0x"))
    assert len(raw) == 65
    assert raw[64] in (27, 28)
    digest = keccak(b"UserRegistration:" + bytes.fromhex(address[2:]) + stark_key.to_bytes(32, "big"))
    sig = eth_keys.Signature(
        vrs=(raw[64] - 27, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))
    )
    return sig.recover_public_key_from_msg_hash(digest).to_checksum_address()


def test_accounts_and_registration(api: Api, server: LocalApiHandle) -> None:
    creds1 = onboarded(api, KEY1, STARK1)["apiKey"]
    creds2 = onboarded(api, KEY2, STARK2)["apiKey"]
    body = json.dumps({"starkKey": hex(STARK3[0]), "starkKeyYCoordinate": hex(STARK3[1])})
    created = api.private(creds1, "POST", "/v3/accounts", sent_body=body).json()["account"]
    assert (created["accountNumber"], created["positionId"]) == ("1", "3")
    assert int(created["starkKey"], 16) == STARK3[0]

    accounts = api.private(creds1, "GET", "/v3/accounts").json()["accounts"]
    assert [a["accountNumber"] for a in accounts] == ["0", "1"]
    own = api.private(creds1, "GET", f"/v3/accounts/{created['id']}")
    assert own.json() == {"account": created}
    other_users_account = api.private(creds2, "GET", "/v3/accounts").json()["accounts"][0]["id"]
    foreign = api.private(creds1, "GET", f"/v3/accounts/{other_users_account}")
    assert (foreign.status_code, msg_of(foreign)) == (404, "Account not found")
    taken = api.private(
        creds1,
        "POST",
        "/v3/accounts",
        sent_body=json.dumps({"starkKey": hex(STARK2[0]), "starkKeyYCoordinate": hex(STARK2[1])}),
    )
    assert (taken.status_code, msg_of(taken)) == (409, "starkKey is already registered to another user")
    off_curve = api.private(
        creds1,
        "POST",
        "/v3/accounts",
        sent_body=json.dumps({"starkKey": hex(STARK4[0]), "starkKeyYCoordinate": hex(STARK4[1] ^ 1)}),
    )
    assert (off_curve.status_code, errors_of(off_curve)[0]["param"]) == (400, "starkKeyYCoordinate")

    operator = api.http.get("/v3/local/operator").json()["address"]
    assert operator == server.operator_address
    address1 = address_of(KEY1)
    for number, stark in (("0", STARK1), ("1", STARK3)):
        response = api.private(creds1, "GET", "/v3/registration", headers={"DYDX-ACCOUNT-NUMBER": number})
        signature = response.json()["signature"]
        assert re.fullmatch(r"0x[0-9a-f]{130}", signature)
        assert recover_registration_signer(signature, address1, stark[0]) == operator
        assert recover_registration_signer(signature, address1, STARK2[0]) != operator
    missing = api.private(creds1, "GET", "/v3/registration", headers={"DYDX-ACCOUNT-NUMBER": "5"})
    assert (missing.status_code, msg_of(missing)) == (404, "Account not found")
    user = api.private(creds2, "GET", "/v3/users").json()["user"]
    assert user["ethereumAddress"] == address_of(KEY2).lower()


@pytest.mark.parametrize("chain_id", [1, 3, 5, 11155111])
def test_reference_vectors_replay_exactly(chain_id: int) -> None:
    vectors = [v for v in kit_vectors() if v["network_id"] == chain_id]
    assert vectors
    clock = FixedClock(FIXED)
    with start_local_api(chain_id=chain_id, clock=clock) as handle:
        api = Api(handle.url, clock)
        for v in vectors:
            stark = (int(v["stark_public_key"], 16), int(v["stark_public_key_y_coordinate"], 16))
            response, _ = api.onboard(
                v["eth_private_key"],
                stark,
                signature=v["onboarding_signature"],
                address=v["ethereum_address"],
            )
            assert response.status_code == 200, (v["name"], response.text)
            assert response.json()["apiKey"] == v["api_key"], v["name"]

            for request in v["api_key_requests"]:  # signed by dydx-v3-python with the default secret
                clock.moment = datetime.strptime(request["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
                headers = {
                    "DYDX-SIGNATURE": request["signature"],
                    "DYDX-API-KEY": v["api_key"]["key"],
                    "DYDX-TIMESTAMP": request["timestamp"],
                    "DYDX-PASSPHRASE": v["api_key"]["passphrase"],
                }
                replay = api.http.request(
                    request["method"], request["request_path"], content=request["body"], headers=headers
                )
                assert replay.status_code == 200, (v["name"], request["request_path"], replay.text)

            for action in v["eth_private_actions"]:  # POST api-keys, DELETE the default key, GET recovery
                clock.moment = datetime.strptime(action["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
                headers = {
                    "DYDX-SIGNATURE": action["signature"],
                    "DYDX-TIMESTAMP": action["timestamp"],
                    "DYDX-ETHEREUM-ADDRESS": v["ethereum_address"],
                }
                replay = api.http.request(
                    action["method"], action["request_path"], content="{}", headers=headers
                )
                assert replay.status_code == 200, (v["name"], action["request_path"], replay.text)
            keys = api.http.get("/v3/local/stats").json()["accepted"]
            assert keys["api_keys.delete"] >= 1
        api.close()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "local-api.sqlite3"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    clock = FixedClock(FIXED)
    with start_local_api(db, chain_id=CHAIN, clock=clock) as first:
        api = Api(first.url, clock)
        onboarded(api, KEY1, STARK1)
        created = api.eth_private(KEY1, "POST", "/v3/api-keys").json()["apiKey"]
        operator = first.operator_address
        api.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    # Secrets are sealed under their passphrase: neither appears in the database file.
    stored = db.read_bytes()
    assert created["secret"].encode() not in stored
    assert created["passphrase"].encode() not in stored

    with start_local_api(db, chain_id=CHAIN, clock=clock) as second:
        api = Api(second.url, clock)
        assert second.operator_address == operator
        assert api.http.get("/v3/local/operator").json() == {"address": operator}
        keys = api.private(created, "GET", "/v3/api-keys")
        assert keys.status_code == 200, keys.text
        assert keys.json()["apiKeys"][1] == created["key"]
        again, _ = api.onboard(KEY1, STARK1)
        assert again.status_code == 409
        assert onboarded(api, KEY2, STARK2)["account"]["positionId"] == "2"
        api.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def outcome(call: Any) -> str:
    try:
        response = call()
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError:
        return "dropped"
    return str(response.status_code)


def test_scheduled_faults_behave_as_named(clock: FixedClock) -> None:
    plan = FaultPlan(
        schedule=(
            ScheduledFault(1, Fault.HTTP_500),
            ScheduledFault(2, Fault.HTTP_502),
            ScheduledFault(3, Fault.HTTP_503),
            ScheduledFault(4, Fault.HTTP_429),
            ScheduledFault(5, Fault.DROP),
            ScheduledFault(6, Fault.DELAY),
            ScheduledFault(1, Fault.DROP_AFTER_COMMIT, kind="onboarding"),
            ScheduledFault(1, Fault.LATE_AFTER_COMMIT, kind="api_keys.create"),
        ),
        delay_seconds=0.05,
        retry_after_seconds=7,
        late_seconds=5,
    )
    with start_local_api(chain_id=CHAIN, clock=clock, faults=plan) as handle:
        api = Api(handle.url, clock)
        first = api.http.get("/v3/time")
        assert (first.status_code, msg_of(first)) == (500, "Internal Server Error")
        for status in (502, 503):
            response = api.http.get("/v3/time")
            assert response.status_code == status
            assert response.headers["content-type"].startswith("text/html")
        # The local control endpoints are never faulted and do not use up scheduled ordinals.
        assert api.http.get("/v3/local/stats").status_code == 200
        limited = api.http.get("/v3/time")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
        with pytest.raises(httpx.RemoteProtocolError):
            api.http.get("/v3/time")
        assert api.http.get("/v3/time").status_code == 200  # delayed, then served

        # Dropped after commit: the client saw no answer, yet the user exists.
        with pytest.raises(httpx.RemoteProtocolError):
            api.onboard(KEY1, STARK1)
        assert api.http.get(f"/v3/users/exists?ethereumAddress={address_of(KEY1)}").json() == {"exists": True}

        # Answered too late for the client: the key exists all the same.
        impatient = Api(handle.url, clock, timeout=0.5)
        with pytest.raises(httpx.ReadTimeout):
            impatient.eth_private(KEY1, "POST", "/v3/api-keys")
        impatient.close()
        default = default_credentials(sign_typed(KEY1, CHAIN, onboarding_message(CHAIN)))
        assert len(api.private(default, "GET", "/v3/api-keys").json()["apiKeys"]) == 2

        stats = api.http.get("/v3/local/stats").json()
        assert stats["accepted"]["onboarding"] == 1
        assert stats["accepted"]["api_keys.create"] == 1
        assert [(f["n"], f["kind"], f["fault"]) for f in stats["faults"]] == [
            (1, "time", "500"),
            (2, "time", "502"),
            (3, "time", "503"),
            (4, "time", "429"),
            (5, "time", "drop"),
            (6, "time", "delay"),
            (7, "onboarding", "drop_after_commit"),
            (9, "api_keys.create", "late_after_commit"),
        ]
        api.close()


def fault_run(plan: FaultPlan, requests: int = 40) -> tuple[list[str], list[dict[str, Any]]]:
    with start_local_api(chain_id=CHAIN, faults=plan) as handle:
        api = Api(handle.url, timeout=5)
        outcomes = [outcome(lambda: api.http.get("/v3/time")) for _ in range(requests)]
        faults = api.http.get("/v3/local/stats").json()["faults"]
        api.close()
    return outcomes, faults


def test_random_faults_are_reproducible_from_the_seed() -> None:
    probabilities = {Fault.HTTP_500: 0.15, Fault.HTTP_429: 0.15, Fault.HTTP_503: 0.1, Fault.DROP: 0.1}
    first, first_log = fault_run(FaultPlan(seed="alpha", probabilities=probabilities))
    second, second_log = fault_run(FaultPlan(seed="alpha", probabilities=probabilities))
    assert first == second
    assert first_log == second_log
    assert {"200", "500", "429", "503", "dropped"} == set(first)
    # The log names exactly the requests that misbehaved, in order.
    expected = {"500": "500", "429": "429", "503": "503", "dropped": "drop"}
    assert [(f["n"], f["fault"]) for f in first_log] == [
        (n, expected[o]) for n, o in enumerate(first, start=1) if o != "200"
    ]
    other, _ = fault_run(FaultPlan(seed="beta", probabilities=probabilities))
    assert other != first
    quiet, quiet_log = fault_run(FaultPlan(seed="alpha"), requests=5)
    assert (quiet, quiet_log) == (["200"] * 5, [])


def test_fault_spec_parsing() -> None:
    plan = parse_fault_spec(
        "seed=7, 503=0.1, 429=0.05, at=onboarding#1:late_after_commit, at=3:drop, late_s=5, "
        "delay_s=0.5, retry_after=9, kinds=onboarding+time"
    )
    assert plan.seed == "7"
    assert dict(plan.probabilities) == {Fault.HTTP_503: 0.1, Fault.HTTP_429: 0.05}
    assert plan.schedule == (
        ScheduledFault(1, Fault.LATE_AFTER_COMMIT, "onboarding"),
        ScheduledFault(3, Fault.DROP, None),
    )
    assert (plan.late_seconds, plan.delay_seconds, plan.retry_after_seconds) == (5, 0.5, 9)
    assert plan.kinds == frozenset({"onboarding", "time"})
    for bad in ("500=2", "500=0.7,429=0.7", "at=x:drop", "at=1:explode", "bogus=1", "kinds=nope", "seed"):
        with pytest.raises(InputError):
            parse_fault_spec(bad)


# ---- dYdX's own client, unchanged ----

DYDX3_VENV = REPO / ".venv-dydx3"


def dydx3_python() -> Path:
    """The dydx-v3-python 2.1.0 virtualenv, created on first use (about 35 s with a warm pip cache)."""
    python = DYDX3_VENV / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([python, "-c", "import dydx3"], capture_output=True).returncode == 0
    ):
        return python
    base = sys.executable if sys.version_info[:2] == (3, 11) else shutil.which("python3.11")
    if base is None:
        pytest.skip("dydx-v3-python 2.1.0 needs Python 3.11 for its pinned dependencies; none found")
    steps = [
        [base, "-m", "venv", "--clear", str(DYDX3_VENV)],
        [python, "-m", "pip", "install", "-q", "dydx-v3-python==2.1.0"],
        # dydx3's eth-abi 2 needs parsimonious 0.9 (0.10 removed an API it uses); its pin is too loose.
        [python, "-m", "pip", "install", "-q", "--no-deps", "parsimonious==0.9.0"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot install dydx-v3-python 2.1.0 with pip: {tail}")
    return python


def test_dydx_v3_python_client_works_unchanged() -> None:
    python = dydx3_python()
    key = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
    second_stark_private = 0x1234567
    with start_local_api(chain_id=CHAIN) as handle:  # real clock: dydx3 stamps its requests itself
        result = subprocess.run(
            [
                python,
                str(REPO / "tests" / "compat" / "dydx3_client_flow.py"),
                handle.url,
                str(CHAIN),
                key,
                hex(second_stark_private),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout)
        operator = handle.operator_address
        stats = httpx.get(handle.url + "/v3/local/stats").json()

    address = address_of(key)
    assert out["address"] == address
    onboarding_signature = sign_typed(key, CHAIN, onboarding_message(CHAIN))
    expected_default = default_credentials(onboarding_signature)
    assert out["onboarding"]["apiKey"] == expected_default == out["client_default_api_key"]
    stark_x = int(out["stark_public_key"], 16)
    assert int(out["onboarding"]["account"]["starkKey"], 16) == stark_x
    assert (out["exists_before"], out["exists_after"]) == ({"exists": False}, {"exists": True})
    assert out["second_onboarding_error"] == {
        "status": 409,
        "body": {"errors": [{"msg": "User already exists"}]},
    }

    created = out["created_api_key"]["apiKey"]["key"]
    assert out["api_keys"] == {"apiKeys": [expected_default["key"], created]}
    assert out["user_via_created_key"]["user"]["ethereumAddress"] == address.lower()
    assert out["delete_created_key"] == {"apiKey": created}
    assert out["api_keys_after_delete"] == {"apiKeys": [expected_default["key"]]}
    assert out["delete_last_key_error"]["status"] == 400
    assert out["deleted_key_rejected"] == {"status": 401, "body": {"errors": [{"msg": "API key not found"}]}}

    assert recover_registration_signer(out["registration"]["signature"], address, stark_x) == operator
    assert out["user"]["user"]["isRegistered"] is False
    assert out["account"]["account"]["positionId"] == "1"
    # update_user (PUT /v3/users) as dydx-v3-python sends it: userData stringified, nones dropped.
    updated = out["updated_user"]["user"]
    assert (updated["email"], updated["username"], updated["country"]) == (
        "ops@example.com",
        "desk_one",
        "SG",
    )
    assert (updated["isSharingUsername"], updated["isSharingAddress"]) == (True, False)
    assert updated["userData"] == {"desk": "mm-1", "tier": 2}
    assert out["user_after_update"]["user"] == updated
    assert out["bad_update_error"]["status"] == 400
    assert out["bad_update_error"]["body"]["errors"][0]["param"] == "email"
    # create_account sends json.dumps' spaced JSON but signs compact JSON: accepted.
    assert int(out["created_account"]["account"]["starkKey"], 16) == stark_public(second_stark_private)[0]
    assert [a["accountNumber"] for a in out["accounts"]["accounts"]] == ["0", "1"]
    assert out["recovery"]["positionId"] == "1"
    assert set(out["time"]) == {"iso", "epoch"}
    assert stats["accepted"]["accounts.create"] == 1


def test_dydx_v3_python_on_chain_module_works_unchanged_against_the_local_chain(tmp_path: Path) -> None:
    """dYdX's own client registers, approves and deposits on serve-chain with its legacy transactions,
    and the local API sees the registration and the deposit as it would on mainnet."""
    from dydx_airgap.online.rehearsal.evm import start_local_chain

    python = dydx3_python()
    key = "0x" + "5a" * 32
    address = address_of(key)
    deployment_file = tmp_path / "deployment.json"
    # The chain is deployed after the API: it needs the API's operator address.
    with (
        start_local_api(tmp_path / "api.sqlite3", chain_id=CHAIN, deployment=deployment_file) as handle,
        start_local_chain(
            operator=handle.operator_address, fund=[f"{address}:5:1000"], deployment_out=deployment_file
        ) as chain,
    ):
        result = subprocess.run(
            [
                python,
                str(REPO / "tests" / "compat" / "dydx3_onchain_flow.py"),
                handle.url,
                chain.url,
                str(CHAIN),
                key,
                str(deployment_file),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout)
        deployment = json.loads(deployment_file.read_text())
        stark_x = int(out["stark_public_key"], 16)
        perpetual = deployment["starkPerpetual"]
        registered = rpc(
            chain.url,
            "eth_call",
            {"to": perpetual, "data": "0x1dbd1da7" + f"{stark_x:064x}"},  # getEthKey(uint256)
            "latest",
        )
        balance = rpc(
            chain.url,
            "eth_call",
            {"to": perpetual, "data": "0x" + _quantized_deposit_call(stark_x, deployment, out)},
            "latest",
        )
        creds = default_credentials(sign_typed(key, CHAIN, onboarding_message(CHAIN)))
        api = Api(handle.url)

        def account() -> dict[str, Any]:
            accounts = api.private(creds, "GET", "/v3/accounts").json()["accounts"]
            return accounts[0] if accounts and accounts[0]["quoteBalance"] == "250.5" else {}

        seen = wait_for(account, "the deposit")
        user = api.private(creds, "GET", "/v3/users").json()["user"]
        api.close()

    assert out["address"] == address
    for step in ("register_user", "set_token_max_allowance", "deposit_to_exchange"):
        receipt = out[step]
        assert receipt["reverted"] is False and receipt["status"] == 1, (step, receipt)
        assert receipt["type"] in ("0", "0x0"), (step, receipt)  # dydx3 sends legacy transactions
        assert receipt["logs"] >= 1, step
    assert int(registered[-40:], 16) == int(address, 16)
    assert out["allowance"] == str(2**256 - 1)
    assert int(balance, 16) == 250_500_000
    assert out["usdc_balance_after"] == 1000_000_000 - 250_500_000
    assert user["isRegistered"] is True
    assert int(seen["starkKey"], 16) == stark_x and seen["positionId"] == out["position_id"]


def _quantized_deposit_call(stark_x: int, deployment: dict[str, Any], out: dict[str, Any]) -> str:
    """getQuantizedDepositBalance(starkKey, assetId, vaultId) calldata."""
    selector = keccak(b"getQuantizedDepositBalance(uint256,uint256,uint256)")[:4].hex()
    asset = int(deployment["collateralAssetId"], 16)
    return selector + f"{stark_x:064x}{asset:064x}{int(out['position_id']):064x}"


# ---- following the local chain (registration and deposits) ----


def rpc(url: str, method: str, *params: Any) -> Any:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
    assert "error" not in body, body
    return body["result"]


def send_transaction(url: str, key: str, to: str, data: bytes) -> None:
    sender = address_of(key)
    tx = {
        "nonce": int(rpc(url, "eth_getTransactionCount", sender, "pending"), 16),
        "type": 2,
        "maxFeePerGas": 2 * int(rpc(url, "eth_gasPrice"), 16),
        "maxPriorityFeePerGas": int(rpc(url, "eth_maxPriorityFeePerGas"), 16),
        "gas": 500_000,
        "to": to,
        "value": 0,
        "data": data,
        "chainId": CHAIN,
    }
    raw = Account.sign_transaction(tx, key).raw_transaction
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + bytes(raw).hex())
    receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
    assert receipt is not None
    assert receipt["status"] == "0x1", receipt


def wait_for(probe: Any, what: str, attempts: int = 200) -> Any:
    """Poll (bounded) until ``probe()`` returns something truthy: the follower works asynchronously."""
    for _ in range(attempts):
        value = probe()
        if value:
            return value
        threading.Event().wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_chain_follower_reports_registration_and_deposits(tmp_path: Path, clock: FixedClock) -> None:
    from eth_abi import encode

    from dydx_airgap.online.rehearsal.evm import start_local_chain

    db, deployment_file = tmp_path / "api.sqlite3", tmp_path / "deployment.json"
    address = address_of(KEY1)
    with start_local_api(db, chain_id=CHAIN, clock=clock, deployment=deployment_file) as handle:
        api = Api(handle.url, clock)
        onboarding = onboarded(api, KEY1, STARK1)
        creds, account_id = onboarding["apiKey"], onboarding["account"]["id"]
        registration = api.private(creds, "GET", "/v3/registration").json()["signature"]
        # The chain is deployed after the API: it needs the API's operator address.
        with start_local_chain(
            operator=handle.operator_address, fund=[f"{address}:5:5000"], deployment_out=deployment_file
        ) as chain:
            deployment = json.loads(deployment_file.read_text())
            perpetual, usdc = deployment["starkPerpetual"], deployment["usdc"]
            asset = int(deployment["collateralAssetId"], 16)
            signature = bytes.fromhex(registration[2:])
            send_transaction(
                chain.url,
                KEY1,
                perpetual,
                bytes.fromhex("dd2414d4")
                + encode(["address", "uint256", "bytes"], [address, STARK1[0], signature]),
            )
            wait_for(
                lambda: api.private(creds, "GET", "/v3/users").json()["user"]["isRegistered"], "registration"
            )
            send_transaction(
                chain.url,
                KEY1,
                usdc,
                bytes.fromhex("095ea7b3") + encode(["address", "uint256"], [perpetual, 2**256 - 1]),
            )
            for amount in (2_000_000_000, 500_500_000):  # 2000 USDC, then 500.5 USDC, into position 1
                send_transaction(
                    chain.url,
                    KEY1,
                    perpetual,
                    bytes.fromhex("2505c3d9") + encode(["uint256"] * 4, [STARK1[0], asset, 1, amount]),
                )

            def balance() -> str:
                account = api.private(creds, "GET", f"/v3/accounts/{account_id}").json()["account"]
                return account["quoteBalance"] if account["quoteBalance"] == "2500.5" else ""

            wait_for(balance, "the deposits")
            account = api.private(creds, "GET", f"/v3/accounts/{account_id}").json()["account"]
            assert (account["equity"], account["freeCollateral"]) == ("2500.5", "2500.5")
            recovery = api.eth_private(KEY1, "GET", "/v3/recovery").json()
            assert recovery["quoteBalance"] == "2500.5"
            api.close()
            handle.stop()

            # A restart reads the chain again from its cursor: nothing is counted twice.
            with start_local_api(db, chain_id=CHAIN, clock=clock, deployment=deployment_file) as again:
                assert again.follower is not None
                assert again.follower.poll_once() == 0
                api = Api(again.url, clock)
                account = api.private(creds, "GET", f"/v3/accounts/{account_id}").json()["account"]
                assert account["quoteBalance"] == "2500.5"
                assert api.private(creds, "GET", "/v3/users").json()["user"]["isRegistered"] is True
                api.close()
