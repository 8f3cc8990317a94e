"""The ASGI application: dYdX v3's onboarding, API-key, user and account endpoints.

``create_app`` wires a :class:`Store`, the chain id every Ethereum signature must be made for, the server
clock (injectable, so tests can replay signed vectors at their own timestamps) and an optional fault plan.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dydx_airgap.online.rehearsal.v3_api.auth import (
    RawRequest,
    authenticate_api_key,
    authenticate_eth_private,
    parse_address_header,
    parse_json_body,
    read_raw_request,
)
from dydx_airgap.online.rehearsal.v3_api.credentials import random_api_credentials
from dydx_airgap.online.rehearsal.v3_api.errors import (
    MSG_ACCOUNT_NOT_FOUND,
    MSG_API_KEY_LIMIT,
    MSG_API_KEY_NOT_FOUND,
    MSG_INTERNAL,
    MSG_INVALID_ONBOARDING_SIGNATURE,
    MSG_LAST_API_KEY,
    MSG_METHOD_NOT_ALLOWED,
    MSG_NOT_FOUND,
    MSG_STARK_KEY_TAKEN,
    MSG_USER_EXISTS,
    MSG_USER_NOT_FOUND,
    ApiError,
    error_response,
    invalid_value,
)
from dydx_airgap.online.rehearsal.v3_api.faults import FaultInjectionMiddleware, FaultPlan
from dydx_airgap.online.rehearsal.v3_api.ledger import Ledger, LedgerMiddleware
from dydx_airgap.online.rehearsal.v3_api.stark_point import StarkKeyError, StarkPublicKey
from dydx_airgap.online.rehearsal.v3_api.store import (
    AccountRecord,
    Store,
    StoreConflict,
    StoreNotFound,
    UserRecord,
)
from dydx_airgap.online.rehearsal.v3_api.views import account_json, recovery_json, user_json
from dydx_airgap.shared.dydx_v3.api_auth import HEADER_SIGNATURE
from dydx_airgap.shared.dydx_v3.derivation import api_credentials_from_onboarding_signature
from dydx_airgap.shared.dydx_v3.signatures import verify_onboarding_signature
from dydx_airgap.shared.errors import AirgapError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.timestamps import iso_ms, now_utc

Clock = Callable[[], datetime]

logger = logging.getLogger("dydx_airgap.local_api")

_CONFLICT_MESSAGES = {
    StoreConflict.USER_EXISTS: (409, MSG_USER_EXISTS),
    StoreConflict.STARK_KEY_TAKEN: (409, MSG_STARK_KEY_TAKEN),
    StoreConflict.API_KEY_LIMIT: (400, MSG_API_KEY_LIMIT),
    StoreConflict.LAST_API_KEY: (400, MSG_LAST_API_KEY),
}


def _conflict(exc: StoreConflict) -> ApiError:
    status, msg = _CONFLICT_MESSAGES[exc.reason]
    return ApiError(status, msg)


def _stark_key_from(body: dict[str, object]) -> StarkPublicKey:
    for name in ("starkKey", "starkKeyYCoordinate"):
        if name not in body:
            raise invalid_value(name, "body")
    try:
        return StarkPublicKey.parse(body["starkKey"], body["starkKeyYCoordinate"])
    except StarkKeyError as exc:
        raise invalid_value(exc.param, "body", None, str(exc)) from exc


def _optional_text(body: dict[str, object], name: str, max_len: int = 256) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise invalid_value(name, "body")
    return value


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_USERNAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
_USER_FIELDS = {
    "email",
    "username",
    "isSharingUsername",
    "isSharingAddress",
    "userData",
    "country",
    "languageCode",
}


def _profile_changes(body: dict[str, object]) -> tuple[dict[str, object], str | None]:
    """PUT /v3/users: the fields to set (store column → value) and the country, each checked."""
    for name in body:
        if name not in _USER_FIELDS:
            raise invalid_value(name, "body")
    changes: dict[str, object] = {}
    email = _optional_text(body, "email", max_len=254)
    if email is not None:
        if not _EMAIL.fullmatch(email):
            raise invalid_value("email", "body", email)
        changes["email"] = email
    username = _optional_text(body, "username", max_len=32)
    if username is not None:
        if not _USERNAME.fullmatch(username):
            raise invalid_value("username", "body", username)
        changes["username"] = username
    for name, column in (
        ("isSharingUsername", "is_sharing_username"),
        ("isSharingAddress", "is_sharing_address"),
    ):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise invalid_value(name, "body")
            changes[column] = int(value)
    user_data = _optional_text(body, "userData", max_len=4096)
    if user_data is not None:  # a JSON object, sent as a string (dydx-v3-python stringifies it)
        try:
            parsed = json.loads(user_data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise invalid_value("userData", "body")
        changes["user_data"] = json.dumps(parsed, separators=(",", ":"), sort_keys=True)
    language = _optional_text(body, "languageCode", max_len=5)
    if language is not None:
        if not _LANGUAGE.fullmatch(language):
            raise invalid_value("languageCode", "body", language)
        changes["language_code"] = language
    country = _optional_text(body, "country", max_len=2)
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise invalid_value("country", "body", country)
    return changes, country.upper() if country else None


class LocalApi:
    """The handlers, bound to one store, chain id and clock."""

    def __init__(self, store: Store, chain_id: int, clock: Clock) -> None:
        self.store = store
        self.chain_id = chain_id
        self.clock = clock

    def _now_iso(self) -> str:
        return iso_ms(self.clock())

    def _user_or_404(self, address: str) -> UserRecord:
        user = self.store.get_user(address)
        if user is None:
            raise ApiError(404, MSG_USER_NOT_FOUND)
        return user

    def _account_or_404(self, address: str, number: int) -> AccountRecord:
        account = self.store.get_account(address, number)
        if account is None:
            raise ApiError(404, MSG_ACCOUNT_NOT_FOUND)
        return account

    async def _api_key_request(self, request: Request) -> tuple[RawRequest, str, int]:
        raw = await read_raw_request(request)
        identity = authenticate_api_key(raw, self.store, self.clock())
        return raw, identity.address, identity.account_number

    # ---- public ----

    async def time(self, request: Request) -> Response:
        now = self.clock()
        # epoch from the same truncated milliseconds as iso, so the two never disagree.
        whole_seconds = int(now.replace(microsecond=0).timestamp())
        epoch = whole_seconds + (now.microsecond // 1000) / 1000
        return JSONResponse({"iso": iso_ms(now), "epoch": epoch})

    async def user_exists(self, request: Request) -> Response:
        text = request.query_params.get("ethereumAddress")
        try:
            address = parse_address(text or "")
        except AirgapError as exc:
            raise invalid_value("ethereumAddress", "query", text) from exc
        return JSONResponse({"exists": self.store.get_user("0x" + address.hex()) is not None})

    # ---- onboarding (Ethereum-key signature, no timestamp) ----

    async def onboarding(self, request: Request) -> Response:
        raw = await read_raw_request(request)
        address = parse_address_header(raw.headers, missing_status=400)
        signature_text = (raw.headers.get(HEADER_SIGNATURE) or "").strip()
        try:
            signature = verify_onboarding_signature(self.chain_id, signature_text, address)
        except AirgapError as exc:
            raise ApiError(400, MSG_INVALID_ONBOARDING_SIGNATURE) from exc
        body = parse_json_body(raw)
        stark = _stark_key_from(body)
        claimed = body.get("ethereumAddress")
        if claimed is not None:
            try:
                same = isinstance(claimed, str) and parse_address(claimed) == parse_address(address)
            except AirgapError:
                same = False
            if not same:
                raise invalid_value("ethereumAddress", "body")
        referred_by = _optional_text(body, "referredByAffiliateLink")
        country = _optional_text(body, "country", max_len=2)
        if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise invalid_value("country", "body", country)
        credentials = api_credentials_from_onboarding_signature(signature.to_bytes())
        try:
            user, account = self.store.onboard(
                address,
                stark,
                credentials,
                referred_by=referred_by,
                country=country.upper() if country else None,
                now=self._now_iso(),
            )
        except StoreConflict as exc:
            raise _conflict(exc) from exc
        return JSONResponse(
            {
                "apiKey": {
                    "key": credentials.key,
                    "passphrase": credentials.passphrase.reveal(),
                    "secret": credentials.secret.reveal(),
                },
                "user": user_json(user),
                "account": account_json(account),
            }
        )

    # ---- Ethereum-key private endpoints ----

    async def create_api_key(self, request: Request) -> Response:
        raw = await read_raw_request(request)
        address = authenticate_eth_private(raw, self.chain_id, self.clock())
        self._user_or_404(address)
        credentials = random_api_credentials()
        try:
            self.store.add_api_key(address, credentials, self._now_iso())
        except StoreConflict as exc:
            raise _conflict(exc) from exc
        return JSONResponse(
            {
                "apiKey": {
                    "key": credentials.key,
                    "passphrase": credentials.passphrase.reveal(),
                    "secret": credentials.secret.reveal(),
                }
            }
        )

    async def delete_api_key(self, request: Request) -> Response:
        raw = await read_raw_request(request)
        address = authenticate_eth_private(raw, self.chain_id, self.clock())
        self._user_or_404(address)
        key = request.query_params.get("apiKey")
        if not key:
            raise invalid_value("apiKey", "query")
        try:
            self.store.delete_api_key(address, key)
        except StoreNotFound as exc:
            raise ApiError(404, MSG_API_KEY_NOT_FOUND) from exc
        except StoreConflict as exc:
            raise _conflict(exc) from exc
        return JSONResponse({"apiKey": key})

    async def recovery(self, request: Request) -> Response:
        raw = await read_raw_request(request)
        address = authenticate_eth_private(raw, self.chain_id, self.clock())
        self._user_or_404(address)
        return JSONResponse(recovery_json(self._account_or_404(address, 0)))

    # ---- API-key (HMAC) endpoints ----

    async def list_api_keys(self, request: Request) -> Response:
        _, address, _ = await self._api_key_request(request)
        return JSONResponse({"apiKeys": self.store.list_api_keys(address)})

    async def registration(self, request: Request) -> Response:
        _, address, number = await self._api_key_request(request)
        account = self._account_or_404(address, number)
        signature = self.store.operator.sign_registration(address, int(account.stark_key, 16))
        return JSONResponse({"signature": signature})

    async def get_user(self, request: Request) -> Response:
        _, address, _ = await self._api_key_request(request)
        return JSONResponse({"user": user_json(self._user_or_404(address), self.store.get_profile(address))})

    async def update_user(self, request: Request) -> Response:
        raw, address, _ = await self._api_key_request(request)
        self._user_or_404(address)
        changes, country = _profile_changes(parse_json_body(raw))
        self.store.update_user(address, changes, country)
        return JSONResponse({"user": user_json(self._user_or_404(address), self.store.get_profile(address))})

    async def create_account(self, request: Request) -> Response:
        raw, address, _ = await self._api_key_request(request)
        stark = _stark_key_from(parse_json_body(raw))
        try:
            account = self.store.create_account(address, stark, self._now_iso())
        except StoreConflict as exc:
            raise _conflict(exc) from exc
        return JSONResponse({"account": account_json(account)})

    async def list_accounts(self, request: Request) -> Response:
        _, address, _ = await self._api_key_request(request)
        return JSONResponse({"accounts": [account_json(a) for a in self.store.list_accounts(address)]})

    async def get_account(self, request: Request) -> Response:
        _, address, _ = await self._api_key_request(request)
        account = self.store.get_account_by_id(address, str(request.path_params["account_id"]))
        if account is None:
            raise ApiError(404, MSG_ACCOUNT_NOT_FOUND)
        return JSONResponse({"account": account_json(account)})

    # ---- local control endpoints (not dYdX's) ----

    async def operator(self, request: Request) -> Response:
        return JSONResponse({"address": to_checksum_address(self.store.operator.address)})


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    msg = {404: MSG_NOT_FOUND, 405: MSG_METHOD_NOT_ALLOWED}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, msg, dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Type name only: the text of an unexpected exception may carry request data.
    logger.error("unexpected %s while serving %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, MSG_INTERNAL)


def create_app(
    store: Store,
    chain_id: int = 11155111,
    *,
    clock: Clock | None = None,
    faults: FaultPlan | None = None,
    ledger: Ledger | None = None,
) -> Any:
    """The ASGI app. ``faults`` is None unless a test or an operator explicitly asks for faults."""
    api = LocalApi(store, chain_id, clock or now_utc)
    ledger = ledger or Ledger()

    async def stats(request: Request) -> Response:
        return JSONResponse(ledger.snapshot())

    routes = [
        Route("/v3/time", api.time, methods=["GET"]),
        Route("/v3/users/exists", api.user_exists, methods=["GET"]),
        Route("/v3/onboarding", api.onboarding, methods=["POST"]),
        Route("/v3/api-keys", api.create_api_key, methods=["POST"]),
        Route("/v3/api-keys", api.delete_api_key, methods=["DELETE"]),
        Route("/v3/api-keys", api.list_api_keys, methods=["GET"]),
        Route("/v3/recovery", api.recovery, methods=["GET"]),
        Route("/v3/registration", api.registration, methods=["GET"]),
        Route("/v3/users", api.get_user, methods=["GET"]),
        Route("/v3/users", api.update_user, methods=["PUT"]),
        Route("/v3/accounts", api.create_account, methods=["POST"]),
        Route("/v3/accounts", api.list_accounts, methods=["GET"]),
        Route("/v3/accounts/{account_id}", api.get_account, methods=["GET"]),
        Route("/v3/local/operator", api.operator, methods=["GET"]),
        Route("/v3/local/stats", stats, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected_error},
    )
    app.state.api = api
    app.state.ledger = ledger
    wrapped: Any = LedgerMiddleware(app, ledger)
    if faults is not None:
        wrapped = FaultInjectionMiddleware(wrapped, faults, ledger)
    return wrapped
