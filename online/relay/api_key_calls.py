"""API-key (HMAC) authenticated reads the relay needs: list a user's keys, read an account.

The signature covers timestamp ‖ METHOD ‖ path with query ‖ body (spec dydx-v3.md §6.3); GET requests carry
no body and sign the empty string. Timestamps come from the server's clock, so a relay host whose clock
is off still authenticates. Answers are checked against dYdX's shapes before use (security.md T4).
"""

from __future__ import annotations

import re
from typing import Any

from dydx_airgap.online.relay.api_client import ApiClient, ApiRequest, ApiResponse, Observer, raise_for_status
from dydx_airgap.online.relay.server_clock import ServerClock
from dydx_airgap.shared.dydx_v3.api_auth import (
    HEADER_API_KEY,
    HEADER_PASSPHRASE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign_api_request,
)
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.errors import RemoteError
from dydx_airgap.shared.timestamps import iso_ms

API_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def hmac_get(
    client: ApiClient,
    credentials: ApiCredentials,
    clock: ServerClock,
    path: str,
    observe: Observer | None = None,
) -> ApiResponse:
    """An authenticated GET (retried on 5xx/429/transport errors, signed afresh for each attempt)."""

    def build(_attempt: int) -> ApiRequest:
        timestamp = iso_ms(clock.now())
        headers = {
            HEADER_SIGNATURE: sign_api_request(credentials.secret.reveal(), timestamp, "GET", path, ""),
            HEADER_API_KEY: credentials.key,
            HEADER_TIMESTAMP: timestamp,
            HEADER_PASSPHRASE: credentials.passphrase.reveal(),
        }
        # Only the key id and the timestamp may be recorded; passphrase and MAC never are.
        return ApiRequest("GET", path, None, headers, frozenset({HEADER_API_KEY, HEADER_TIMESTAMP}))

    return client.call_idempotent(build, observe=observe)


def parse_api_key_list(data: Any) -> list[str]:
    """``{"apiKeys": [...]}`` — dYdX's docs show key strings, v3-client's types objects with ``key``."""
    if not isinstance(data, dict) or not isinstance(data.get("apiKeys"), list):
        raise RemoteError("GET /v3/api-keys: the answer has no 'apiKeys' list")
    keys: list[str] = []
    for entry in data["apiKeys"]:
        key = entry.get("key") if isinstance(entry, dict) else entry
        if not isinstance(key, str) or not API_KEY_ID.fullmatch(key):
            raise RemoteError("GET /v3/api-keys: an entry is not an API key id")
        keys.append(key)
    return keys


def list_api_keys(
    client: ApiClient, credentials: ApiCredentials, clock: ServerClock, observe: Observer | None = None
) -> list[str]:
    response = hmac_get(client, credentials, clock, "/v3/api-keys", observe)
    raise_for_status(response, "GET /v3/api-keys")
    return parse_api_key_list(response.json())


def get_account(
    client: ApiClient,
    credentials: ApiCredentials,
    clock: ServerClock,
    account_id: str,
    observe: Observer | None = None,
) -> dict[str, Any]:
    response = hmac_get(client, credentials, clock, f"/v3/accounts/{account_id}", observe)
    raise_for_status(response, "GET /v3/accounts")
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("account"), dict):
        raise RemoteError("GET /v3/accounts: the answer has no 'account'")
    account: dict[str, Any] = data["account"]
    return account
