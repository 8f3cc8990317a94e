"""What the local API received and accepted, per request kind (``GET /v3/local/stats``).

Tests of the relay need to know whether a submission *reached and changed* the server even when the
client saw a timeout or a dropped connection; the ledger counts at the server, after the handler ran.
Counts live in memory and restart from zero with the process.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOCAL_PREFIX = "/v3/local/"

_EXACT_KINDS = {
    ("POST", "/v3/onboarding"): "onboarding",
    ("POST", "/v3/api-keys"): "api_keys.create",
    ("GET", "/v3/api-keys"): "api_keys.list",
    ("DELETE", "/v3/api-keys"): "api_keys.delete",
    ("GET", "/v3/registration"): "registration",
    ("GET", "/v3/users"): "users.get",
    ("GET", "/v3/users/exists"): "users.exists",
    ("GET", "/v3/recovery"): "recovery",
    ("GET", "/v3/time"): "time",
    ("POST", "/v3/accounts"): "accounts.create",
    ("GET", "/v3/accounts"): "accounts.list",
}
_ACCOUNT_PATH = re.compile(r"/v3/accounts/[^/]+")

#: Every kind a request can be classified as (``other``: any other /v3 request, e.g. a 404).
REQUEST_KINDS = frozenset([*_EXACT_KINDS.values(), "accounts.get", "other"])


def request_kind(method: str, path: str) -> str | None:
    """The kind of a dYdX request; None for the local control endpoints and non-/v3 paths."""
    if path.startswith(LOCAL_PREFIX) or not path.startswith("/v3/"):
        return None
    kind = _EXACT_KINDS.get((method.upper(), path.rstrip("/") or "/"))
    if kind is not None:
        return kind
    if method.upper() == "GET" and _ACCOUNT_PATH.fullmatch(path):
        return "accounts.get"
    return "other"


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: Counter[str] = Counter()
        self._accepted: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._faults: list[dict[str, Any]] = []

    def received(self, kind: str) -> None:
        with self._lock:
            self._received[kind] += 1

    def answered(self, kind: str, status: int) -> None:
        with self._lock:
            (self._accepted if 200 <= status < 300 else self._rejected)[kind] += 1

    def fault(self, ordinal: int, kind: str, fault: str) -> None:
        with self._lock:
            self._faults.append({"n": ordinal, "kind": kind, "fault": fault})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": dict(sorted(self._received.items())),
                "accepted": dict(sorted(self._accepted.items())),
                "rejected": dict(sorted(self._rejected.items())),
                "faults": list(self._faults),
            }


class LedgerMiddleware:
    """Counts every /v3 request and the status the application answered it with."""

    def __init__(self, app: ASGIApp, ledger: Ledger) -> None:
        self.app = app
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = (
            request_kind(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        )
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.ledger.received(kind)
        status: list[int] = []

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                # Counted when the handler has answered (its transaction is committed), before the
                # bytes leave: a fault that then drops the response still shows as accepted.
                self.ledger.answered(kind, status[0])
            await send(message)

        await self.app(scope, receive, watching_send)
