"""Fault injection for the v4 stand-in (``serve-v4 --faults``), off unless asked for.

The faults a relay broadcasting a signed transaction must survive without sending it twice:
``500`` / ``503`` before the handler runs (nothing reaches the mempool), ``drop`` (connection closed, nothing
done), ``drop_after_commit`` (the transaction *is* in the mempool, the answer never arrives),
``late_after_commit`` (the answer is held ``late_s`` seconds, beyond a client's timeout) and ``duplicate``
(the transaction is accepted, but the answer is the one a second copy would get: code 19).

Which request gets a fault: an ``at=N:FAULT`` entry for the N-th eligible request, otherwise SHA-256 of
``seed`` and the ordinal against the probabilities, so a seed replays the same schedule. Eligible are the
``kinds`` given (``broadcast``, ``simulate``, ``query``; default ``broadcast``); ``/local/*`` never is.
The connection drop reuses the v3 stand-in's uvicorn protocol extension.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dydx_airgap.online.rehearsal.v3_api.faults import _drop
from dydx_airgap.online.rehearsal.v3_api.ledger import ASGIApp, Message, Receive, Scope, Send
from dydx_airgap.shared.errors import InputError

KINDS = frozenset({"broadcast", "simulate", "query"})


class V4Fault(StrEnum):
    HTTP_500 = "500"
    HTTP_503 = "503"
    DROP = "drop"
    DROP_AFTER_COMMIT = "drop_after_commit"
    LATE_AFTER_COMMIT = "late_after_commit"
    DUPLICATE = "duplicate"


_AFTER = frozenset({V4Fault.DROP_AFTER_COMMIT, V4Fault.LATE_AFTER_COMMIT, V4Fault.DUPLICATE})


@dataclass(frozen=True)
class V4FaultPlan:
    seed: str = "0"
    probabilities: Mapping[V4Fault, float] = field(default_factory=dict)
    schedule: Mapping[int, V4Fault] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset({"broadcast"})
    late_seconds: float = 30.0

    def __post_init__(self) -> None:
        if (
            any(not 0.0 <= p <= 1.0 for p in self.probabilities.values())
            or sum(self.probabilities.values()) > 1
        ):
            raise InputError("fault probabilities are between 0 and 1 and add up to at most 1")
        if not self.kinds or not self.kinds <= KINDS:
            raise InputError(f"fault kinds are some of {', '.join(sorted(KINDS))}")
        if any(n < 1 for n in self.schedule) or self.late_seconds < 0:
            raise InputError("scheduled faults count requests from 1; late_s is not negative")


def request_kind(method: str, path: str) -> str | None:
    if path.startswith("/local/"):
        return None
    if method == "POST" and path == "/cosmos/tx/v1beta1/txs":
        return "broadcast"
    if method == "POST" and path == "/cosmos/tx/v1beta1/simulate":
        return "simulate"
    return "query"


def parse_fault_spec(spec: str) -> V4FaultPlan:
    """``seed=7,drop_after_commit=0.2,at=1:duplicate,kinds=broadcast+query,late_s=5``"""
    by_name = {f.value: f for f in V4Fault}
    options: dict[str, Any] = {}
    probabilities: dict[V4Fault, float] = {}
    schedule: dict[int, V4Fault] = {}
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep:
            raise InputError(f"fault option {item!r} must look like name=value")
        try:
            if name == "seed":
                options["seed"] = value
            elif name in by_name:
                probabilities[by_name[name]] = float(value)
            elif name == "late_s":
                options["late_seconds"] = float(value)
            elif name == "kinds":
                options["kinds"] = frozenset(k for k in value.split("+") if k)
            elif name == "at":
                nth, colon, fault = value.partition(":")
                if not colon or not nth.isdigit() or fault not in by_name:
                    raise InputError(f"fault option at={value!r} must look like N:FAULT")
                schedule[int(nth)] = by_name[fault]
            else:
                raise InputError(f"unknown fault option {name!r}")
        except ValueError:
            raise InputError(f"fault option {name} needs a number, not {value!r}") from None
    return V4FaultPlan(probabilities=probabilities, schedule=schedule, **options)


class FaultMiddleware:
    def __init__(self, app: ASGIApp, plan: V4FaultPlan) -> None:
        self.app = app
        self.plan = plan
        self._lock = threading.Lock()
        self._count = 0
        self.injected: list[tuple[int, str, str]] = []

    def _decide(self, kind: str) -> V4Fault | None:
        with self._lock:
            self._count += 1
            ordinal = self._count
        fault = self.plan.schedule.get(ordinal)
        if fault is None:
            digest = hashlib.sha256(f"{self.plan.seed}\x00{ordinal}".encode()).digest()
            u, edge = int.from_bytes(digest[:8], "big") / 2**64, 0.0
            for candidate in V4Fault:
                edge += self.plan.probabilities.get(candidate, 0.0)
                if u < edge:
                    fault = candidate
                    break
        if fault is not None:
            self.injected.append((ordinal, kind, fault.value))
        return fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = (
            request_kind(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        )
        fault = self._decide(kind) if kind is not None and kind in self.plan.kinds else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault in _AFTER:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if fault is V4Fault.DROP_AFTER_COMMIT:
                await _drop(scope, send)
                return
            if fault is V4Fault.DUPLICATE:
                held = _as_duplicate(held)
            else:
                await asyncio.sleep(self.plan.late_seconds)
            for message in held:
                await send(message)
            return
        if fault is V4Fault.DROP:
            await _drop(scope, send)
            return
        status = int(fault.value)
        body = json.dumps(
            {"code": 13 if status == 500 else 14, "message": "injected fault", "details": []}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _as_duplicate(held: list[Message]) -> list[Message]:
    """Rewrite a SYNC answer into the code-19 answer a second copy of the same bytes gets."""
    body = b"".join(m.get("body", b"") for m in held if m.get("type") == "http.response.body")
    try:
        document = json.loads(body)
        response = document["tx_response"]
        response.update(code=19, codespace="sdk", raw_log="tx already in mempool")
        new = json.dumps(document).encode()
    except (ValueError, KeyError, TypeError):
        return held
    start = next(m for m in held if m.get("type") == "http.response.start")
    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
    headers.append((b"content-length", str(len(new)).encode()))
    return [{**start, "headers": headers}, {"type": "http.response.body", "body": new}]
