"""Authentication of requests, as dYdX v3 evidently did it (spec dydx-v3.md §6).

**Request path.** The signed ``requestPath`` is compared with the path and query string *exactly as
received* — ASGI's ``raw_path`` and ``query_string`` — never a decoded or re-encoded form: a relay that
re-encodes a query must fail here as it failed at dYdX (dydx-v3-python #197).

**Body.** dydx-v3-python signs the compact JSON of its data (``separators=(',', ':')``) but *sends*
``json.dumps`` with the default ``', '``/``': '`` separators, and for GET/DELETE it sends ``{}`` while
signing the empty string (HMAC) or ``{}`` (Ethereum-key calls); v3-client signs exactly what it sends and
sends no body on GET. Since both clients worked, dYdX must have verified against a re-serialisation of
the parsed body. The local API accepts the signature if it matches any of: the raw body text; the compact
re-serialisation of the parsed JSON (with ``\\uXXXX`` escapes, as Python makes it, and without, as
JavaScript makes it); and, when the body is absent or the empty object, the "no body" string of the call
type (``""`` for HMAC, ``"{}"`` for Ethereum-key calls). All candidates carry the same parsed content,
so accepting several does not widen what a signature authorises.

**Timestamps** must be ``YYYY-MM-DDTHH:MM:SS.mmmZ`` within ±30 s of the server clock (inclusive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import Headers
from starlette.requests import Request

from dydx_airgap.online.rehearsal.v3_api.credentials import open_secret
from dydx_airgap.online.rehearsal.v3_api.errors import (
    MSG_API_KEY_NOT_FOUND,
    MSG_INVALID_ETH_SIGNATURE,
    MSG_TIMESTAMP_WINDOW,
    MSG_UNAUTHORIZED,
    ApiError,
    invalid_value,
)
from dydx_airgap.online.rehearsal.v3_api.store import Store
from dydx_airgap.shared.dydx_v3.api_auth import (
    HEADER_ACCOUNT_NUMBER,
    HEADER_API_KEY,
    HEADER_ETHEREUM_ADDRESS,
    HEADER_PASSPHRASE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_api_request,
)
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature
from dydx_airgap.shared.errors import AirgapError
from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.timestamps import parse_iso_ms, within_window

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawRequest:
    """What a signature covers, taken from the request exactly as it arrived."""

    method: str
    request_path: str
    body: str
    headers: Headers


async def read_raw_request(request: Request) -> RawRequest:
    scope = request.scope
    raw_path = scope.get("raw_path")
    if not isinstance(raw_path, bytes):
        # Without the raw bytes we could only re-encode the path, which is exactly what must not happen.
        raise ApiError(500, "The server cannot see the raw request path")
    query: bytes = scope.get("query_string", b"")
    target = raw_path + (b"?" + query if query else b"")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "Request body is too large")
    try:
        path_text = target.decode("utf-8")
        body_text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Request path and body must be UTF-8") from exc
    return RawRequest(request.method.upper(), path_text, body_text, request.headers)


def parse_json_body(raw: RawRequest) -> dict[str, object]:
    """The body as a JSON object; an absent body is the empty object."""
    if not raw.body.strip():
        return {}
    try:
        data = json.loads(raw.body)
    except ValueError as exc:
        raise ApiError(400, "Request body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def signed_body_candidates(body: str, no_body: str) -> tuple[str, ...]:
    """The body strings a client may have signed for this body (see the module docstring)."""
    if not body.strip():
        return (no_body,)
    candidates = [body]
    try:
        parsed = json.loads(body)
    except ValueError:
        return (body,)
    for ensure_ascii in (True, False):
        compact = json.dumps(parsed, separators=(",", ":"), ensure_ascii=ensure_ascii)
        if compact not in candidates:
            candidates.append(compact)
    if parsed == {} and no_body not in candidates:
        candidates.append(no_body)
    return tuple(candidates)


def _required_header(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise ApiError(401, MSG_UNAUTHORIZED)
    return value.strip()


def check_timestamp(text: str, now: datetime) -> None:
    try:
        moment = parse_iso_ms(text)
    except AirgapError as exc:
        raise invalid_value(HEADER_TIMESTAMP, "headers", text) from exc
    if not within_window(moment, now):
        raise ApiError(401, MSG_TIMESTAMP_WINDOW)


def parse_address_header(headers: Headers, *, missing_status: int = 401) -> str:
    """``DYDX-ETHEREUM-ADDRESS`` as lower-case hex (dYdX stored addresses lower case)."""
    value = headers.get(HEADER_ETHEREUM_ADDRESS)
    if value is None or not value.strip():
        if missing_status == 401:
            raise ApiError(401, MSG_UNAUTHORIZED)
        raise invalid_value(HEADER_ETHEREUM_ADDRESS, "headers")
    try:
        return "0x" + parse_address(value.strip()).hex()
    except AirgapError as exc:
        raise invalid_value(HEADER_ETHEREUM_ADDRESS, "headers", value) from exc


def authenticate_eth_private(raw: RawRequest, chain_id: int, now: datetime) -> str:
    """Check an Ethereum-key call (api-keys POST/DELETE, recovery); return the signer's address."""
    signature = _required_header(raw.headers, HEADER_SIGNATURE)
    timestamp = _required_header(raw.headers, HEADER_TIMESTAMP)
    address = parse_address_header(raw.headers)
    check_timestamp(timestamp, now)
    for body in signed_body_candidates(raw.body, "{}"):
        try:
            verify_eth_private_signature(
                chain_id, raw.method, raw.request_path, body, timestamp, signature, address
            )
        except AirgapError:
            continue
        return address
    raise ApiError(401, MSG_INVALID_ETH_SIGNATURE)


@dataclass(frozen=True)
class ApiKeyIdentity:
    address: str
    account_number: int
    api_key: str


def authenticate_api_key(raw: RawRequest, store: Store, now: datetime) -> ApiKeyIdentity:
    """Check an API-key (HMAC) call: key known, passphrase opens its secret, HMAC over the request."""
    signature = _required_header(raw.headers, HEADER_SIGNATURE)
    key = _required_header(raw.headers, HEADER_API_KEY)
    timestamp = _required_header(raw.headers, HEADER_TIMESTAMP)
    passphrase = _required_header(raw.headers, HEADER_PASSPHRASE)
    account_text = raw.headers.get(HEADER_ACCOUNT_NUMBER, "0").strip() or "0"
    if not account_text.isdigit() or len(account_text) > 9:
        raise invalid_value(HEADER_ACCOUNT_NUMBER, "headers", account_text)
    check_timestamp(timestamp, now)
    record = store.find_api_key(key)
    if record is None:
        raise ApiError(401, MSG_API_KEY_NOT_FOUND)
    secret = open_secret(record.key, passphrase, record.sealed)
    if secret is None:
        raise ApiError(401, MSG_UNAUTHORIZED)
    for body in signed_body_candidates(raw.body, ""):
        try:
            if verify_api_request(secret.reveal(), timestamp, raw.method, raw.request_path, body, signature):
                return ApiKeyIdentity(record.address, int(account_text), record.key)
        except AirgapError:
            break
    raise ApiError(401, MSG_UNAUTHORIZED)
