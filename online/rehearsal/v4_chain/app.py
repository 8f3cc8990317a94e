"""The REST gateway of the stand-in: the cosmos-sdk and dYdX endpoints of spec §B6, in proto3 JSON.

uint64 values are JSON strings, bytes are standard base64, enums their names — the proto3 JSON mapping the
gateway uses. Bad requests get the gateway's error shape ``{"code", "message", "details"}`` (gRPC status
codes: 3 invalid argument, 5 not found, 13 internal) with HTTP 400/404/500, never a traceback; a
transaction the chain refuses is an HTTP 200 with a non-zero ``tx_response.code``, as on a real node.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dydx_airgap.shared.dydx_v4.address import is_address
from dydx_airgap.shared.dydx_v4.messages import MAX_SUBACCOUNT_NUMBER

from .chain import Chain, iso_from_ms, result_json
from .errors import ChainError
from .faults import FaultMiddleware, V4FaultPlan

logger = logging.getLogger("dydx_airgap.local_v4_chain")
MAX_BODY_BYTES = 1 << 20
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_INTERNAL = 13


class GatewayError(Exception):
    def __init__(self, status: int, grpc_code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.grpc_code, self.message = status, grpc_code, " ".join(message.split())

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.grpc_code, "message": self.message, "details": []}, self.status)


def _bad(message: str) -> GatewayError:
    return GatewayError(400, GRPC_INVALID_ARGUMENT, message)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise _bad("request body is too large")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad("invalid character in request body: not JSON") from None
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    return body


def _tx_bytes(body: dict[str, Any]) -> bytes:
    text = body.get("tx_bytes")
    if not isinstance(text, str) or not text:
        raise _bad("tx_bytes: missing or not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _bad("tx_bytes: illegal base64 data") from None


def _address(request: Request, name: str = "address") -> str:
    address = str(request.path_params[name])
    if not is_address(address):
        raise _bad(f"invalid address {address[:80]!r}: decoding bech32 failed")
    return address


def _uint(request: Request, name: str, high: int) -> int:
    text = str(request.path_params[name])
    if not text.isdigit() or int(text) > high:
        raise _bad(f"{name}: {text[:40]!r} is not a valid number")
    return int(text)


class Gateway:
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    # ---- transactions ----

    async def broadcast(self, request: Request) -> Response:
        body = await _json_body(request)
        mode = body.get("mode", "BROADCAST_MODE_SYNC")
        if mode not in ("BROADCAST_MODE_SYNC", "BROADCAST_MODE_ASYNC"):
            raise _bad(f"unsupported broadcast mode {str(mode)[:40]!r} (the stand-in takes SYNC and ASYNC)")
        return JSONResponse({"tx_response": self.chain.broadcast_sync(_tx_bytes(body))})

    async def simulate(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            gas = self.chain.simulate(_tx_bytes(body))
        except ChainError as exc:
            raise _bad(f"{exc.raw_log}") from None
        return JSONResponse(
            {
                "gas_info": {"gas_wanted": "0", "gas_used": str(gas)},
                "result": {"data": "", "log": "", "events": [], "msg_responses": []},
            }
        )

    async def get_tx(self, request: Request) -> Response:
        digest = str(request.path_params["hash"])
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise _bad("tx hash must be 64 hex digits")
        result = self.chain.get_tx(digest)
        if result is None:
            raise GatewayError(404, GRPC_NOT_FOUND, f"tx not found: {digest.upper()}")
        response = result_json(result)
        return JSONResponse({"tx": response.pop("tx"), "tx_response": response})

    # ---- queries ----

    async def account(self, request: Request) -> Response:
        address = _address(request)
        account = self.chain.read().accounts.get(address)
        if account is None:
            raise GatewayError(404, GRPC_NOT_FOUND, f"account {address} not found")
        pub_key = (
            {"@type": "/cosmos.crypto.secp256k1.PubKey", "key": base64.b64encode(account.pub_key).decode()}
            if account.pub_key
            else None
        )
        return JSONResponse(
            {
                "account": {
                    "@type": "/cosmos.auth.v1beta1.BaseAccount",
                    "address": address,
                    "pub_key": pub_key,
                    "account_number": str(account.number),
                    "sequence": str(account.sequence),
                }
            }
        )

    async def balances(self, request: Request) -> Response:
        coins = self.chain.read().coins(_address(request))
        return JSONResponse(
            {
                "balances": [c.to_proto3_json() for c in coins],
                "pagination": {"next_key": None, "total": str(len(coins))},
            }
        )

    async def subaccount(self, request: Request) -> Response:
        owner = _address(request, "owner")
        number = _uint(request, "number", MAX_SUBACCOUNT_NUMBER)
        quantums = self.chain.read().subaccounts.get((owner, number), 0)
        positions = [{"asset_id": 0, "quantums": str(quantums), "index": "0"}] if quantums else []
        return JSONResponse(
            {
                "subaccount": {
                    "id": {"owner": owner, "number": number},
                    "asset_positions": positions,
                    "perpetual_positions": [],
                    "margin_enabled": False,
                }
            }
        )

    @staticmethod
    def _authenticator_json(ident: int, type_name: str, config: bytes) -> dict[str, Any]:
        return {"id": str(ident), "type": type_name, "config": base64.b64encode(config).decode()}

    async def authenticators(self, request: Request) -> Response:
        owned = self.chain.read().authenticators.get(_address(request, "account"), {})
        return JSONResponse(
            {
                "account_authenticators": [
                    self._authenticator_json(a.id, a.type, a.config) for a in owned.values()
                ]
            }
        )

    async def authenticator(self, request: Request) -> Response:
        owned = self.chain.read().authenticators.get(_address(request, "account"), {})
        found = owned.get(_uint(request, "id", 2**64 - 1))
        if found is None:
            raise GatewayError(404, GRPC_NOT_FOUND, "Authenticator is not found")
        return JSONResponse(
            {"account_authenticator": self._authenticator_json(found.id, found.type, found.config)}
        )

    async def params(self, request: Request) -> Response:
        return JSONResponse({"params": {"is_smart_account_active": self.chain.read().smart_account_active}})

    async def account_state(self, request: Request) -> Response:
        address = _address(request)
        details = self.chain.read().nonces.get(address)
        if details is None:
            raise GatewayError(404, GRPC_NOT_FOUND, f"account state not found for {address}")
        return JSONResponse(
            {
                "account_state": {
                    "address": address,
                    "timestamp_nonce_details": {
                        "timestamp_nonces": [str(n) for n in details.nonces],
                        "max_ejected_nonce": str(details.max_ejected),
                    },
                }
            }
        )

    async def latest_block(self, request: Request) -> Response:
        height, time_ms, block_hash, txs = self.chain.latest_block()
        block = {
            "header": {"chain_id": self.chain.chain_id, "height": str(height), "time": iso_from_ms(time_ms)},
            "data": {"txs": [base64.b64encode(t).decode() for t in txs]},
        }
        block_id = {"hash": base64.b64encode(bytes.fromhex(block_hash)).decode() if block_hash else ""}
        return JSONResponse({"block_id": block_id, "block": block, "sdk_block": block})

    # ---- local control (not the chain's) ----

    async def make_blocks(self, request: Request) -> Response:
        body = await _json_body(request)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise _bad("count must be an integer from 1 to 1000")
        height = 0
        for _ in range(count):
            height = self.chain.make_block()
        return JSONResponse({"height": str(height)})

    async def faucet(self, request: Request) -> Response:
        body = await _json_body(request)
        address, amount = body.get("address"), body.get("amount")
        denom = body.get("denom", self.chain.network.usdc_denom)
        if not is_address(address) or not isinstance(denom, str):
            raise _bad("faucet needs a dydx1… address and a denom")
        if not isinstance(amount, str) or not amount.isdigit() or int(amount) == 0:
            raise _bad("faucet amount is a positive decimal string")
        assert isinstance(address, str)
        self.chain.faucet(address, denom, int(amount))
        return JSONResponse({"address": address, "denom": denom, "amount": amount})

    async def orders(self, request: Request) -> Response:
        return JSONResponse({"orders": self.chain.orders()})

    async def stats(self, request: Request) -> Response:
        c = self.chain.counters
        return JSONResponse(
            {
                "broadcasts": c.broadcasts,
                "accepted": c.accepted,
                "refused": c.refused,
                "duplicates": c.duplicates,
                "blocks": c.blocks,
                "refused_by_code": {str(k): v for k, v in sorted(c.by_code.items())},
                "mempool": len(self.chain.mempool),
            }
        )


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return GatewayError(404, GRPC_NOT_FOUND, "Not Implemented").response()
    return GatewayError(exc.status_code, GRPC_INVALID_ARGUMENT, str(exc.detail)).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected %s while serving %s %s", type(exc).__name__, request.method, request.url.path)
    return GatewayError(500, GRPC_INTERNAL, "internal error").response()


def create_app(chain: Chain, *, faults: V4FaultPlan | None = None) -> Any:
    g = Gateway(chain)
    routes = [
        Route("/cosmos/tx/v1beta1/txs", g.broadcast, methods=["POST"]),
        Route("/cosmos/tx/v1beta1/simulate", g.simulate, methods=["POST"]),
        Route("/cosmos/tx/v1beta1/txs/{hash}", g.get_tx, methods=["GET"]),
        Route("/cosmos/auth/v1beta1/accounts/{address}", g.account, methods=["GET"]),
        Route("/cosmos/bank/v1beta1/balances/{address}", g.balances, methods=["GET"]),
        Route("/cosmos/base/tendermint/v1beta1/blocks/latest", g.latest_block, methods=["GET"]),
        Route("/dydxprotocol/subaccounts/subaccount/{owner}/{number}", g.subaccount, methods=["GET"]),
        Route("/dydxprotocol/accountplus/authenticators/{account}", g.authenticators, methods=["GET"]),
        Route("/dydxprotocol/accountplus/authenticator/{account}/{id}", g.authenticator, methods=["GET"]),
        Route("/dydxprotocol/accountplus/params", g.params, methods=["GET"]),
        Route("/dydxprotocol/accountplus/account_state/{address}", g.account_state, methods=["GET"]),
        Route("/local/blocks", g.make_blocks, methods=["POST"]),
        Route("/local/faucet", g.faucet, methods=["POST"]),
        Route("/local/orders", g.orders, methods=["GET"]),
        Route("/local/stats", g.stats, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={GatewayError: _gateway_error, HTTPException: _http_error, Exception: _unexpected},
    )
    return app if faults is None else FaultMiddleware(app, faults)
