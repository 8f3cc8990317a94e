"""Deterministic fault injection, for testing the relay against an unreliable API. Off unless asked for.

Faults before the handler runs (nothing is committed):
  ``500`` (dYdX error envelope), ``502``/``503`` (an HTML page, as a load balancer sends), ``429`` (with
  ``Retry-After``), ``delay`` (sleep, then handle normally), ``drop`` (close the connection, no response).
Faults after the handler ran and committed its change:
  ``late_after_commit`` (hold the response for ``late_seconds``, beyond any sane client timeout, then send
  it), ``drop_after_commit`` (close the connection instead of answering).

Which request gets which fault is decided from the request's ordinal among the eligible requests (those
of ``kinds``, by default every /v3 request except ``/v3/local/*``): first an explicit ``schedule`` entry
(for the n-th eligible request, or the n-th request of one kind), otherwise a uniform number derived from
SHA-256(seed ‖ ordinal) against the fault probabilities. The same seed and the same request sequence
therefore always give the same faults; concurrent clients only change which request gets which ordinal.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dydx_airgap.online.rehearsal.v3_api.errors import MSG_INTERNAL
from dydx_airgap.online.rehearsal.v3_api.ledger import (
    REQUEST_KINDS,
    ASGIApp,
    Ledger,
    Message,
    Receive,
    Scope,
    Send,
    request_kind,
)
from dydx_airgap.shared.errors import InputError

#: ASGI scope extension under which our uvicorn protocol offers "close this connection now".
DROP_EXTENSION = "dydx_airgap.drop_connection"


class Fault(StrEnum):
    HTTP_500 = "500"
    HTTP_502 = "502"
    HTTP_503 = "503"
    HTTP_429 = "429"
    DELAY = "delay"
    DROP = "drop"
    LATE_AFTER_COMMIT = "late_after_commit"
    DROP_AFTER_COMMIT = "drop_after_commit"


_AFTER_COMMIT = frozenset({Fault.LATE_AFTER_COMMIT, Fault.DROP_AFTER_COMMIT})


@dataclass(frozen=True)
class ScheduledFault:
    """``fault`` for the ``nth`` (1-based) eligible request, or the ``nth`` request of ``kind``."""

    nth: int
    fault: Fault
    kind: str | None = None


@dataclass(frozen=True)
class FaultPlan:
    seed: str = "0"
    probabilities: Mapping[Fault, float] = field(default_factory=dict)
    schedule: tuple[ScheduledFault, ...] = ()
    kinds: frozenset[str] | None = None
    delay_seconds: float = 1.0
    retry_after_seconds: int = 1
    late_seconds: float = 30.0

    def __post_init__(self) -> None:
        for fault, p in self.probabilities.items():
            if not isinstance(fault, Fault) or not 0.0 <= p <= 1.0:
                raise InputError(f"fault probability for {fault!s} must be between 0 and 1")
        if sum(self.probabilities.values()) > 1.0 + 1e-9:
            raise InputError("fault probabilities must add up to at most 1")
        for entry in self.schedule:
            if entry.nth < 1:
                raise InputError("scheduled faults count requests from 1")
            if entry.kind is not None and entry.kind not in REQUEST_KINDS:
                raise InputError(f"unknown request kind {entry.kind!r}: use one of {sorted(REQUEST_KINDS)}")
        for kind in self.kinds or ():
            if kind not in REQUEST_KINDS:
                raise InputError(f"unknown request kind {kind!r}: use one of {sorted(REQUEST_KINDS)}")
        if self.delay_seconds < 0 or self.late_seconds < 0 or self.retry_after_seconds < 0:
            raise InputError("fault durations must not be negative")


def _uniform(seed: str, ordinal: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{ordinal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FaultDecider:
    """Counts eligible requests and answers which fault (if any) the next one gets."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._count = 0
        self._per_kind: Counter[str] = Counter()
        self._by_ordinal = {e.nth: e.fault for e in plan.schedule if e.kind is None}
        self._by_kind = {(e.kind, e.nth): e.fault for e in plan.schedule if e.kind is not None}

    def eligible(self, kind: str) -> bool:
        return self.plan.kinds is None or kind in self.plan.kinds

    def decide(self, kind: str) -> tuple[int, Fault | None]:
        with self._lock:
            self._count += 1
            self._per_kind[kind] += 1
            ordinal, nth_of_kind = self._count, self._per_kind[kind]
        scheduled = self._by_kind.get((kind, nth_of_kind)) or self._by_ordinal.get(ordinal)
        if scheduled is not None:
            return ordinal, scheduled
        u = _uniform(self.plan.seed, ordinal)
        edge = 0.0
        for fault in Fault:  # a fixed order, so the mapping from u to a fault never changes
            edge += self.plan.probabilities.get(fault, 0.0)
            if u < edge:
                return ordinal, fault
        return ordinal, None


_HTML = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
    503: b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>503 Service Temporarily Unavailable</h1></body></html>",
}


async def _respond(send: Send, status: int, body: bytes, content_type: bytes, extra: list[Any]) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(scope: Scope, send: Send) -> None:
    dropper: Callable[[], Awaitable[None]] | None = scope.get("extensions", {}).get(DROP_EXTENSION)
    if dropper is not None:
        await dropper()
        return
    # Served by a protocol without our extension: the nearest thing is to start a response and
    # abort it, which makes the server close the connection mid-response.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
    raise ConnectionAbortedError("fault injection: connection dropped")


class FaultInjectionMiddleware:
    def __init__(self, app: ASGIApp, plan: FaultPlan, ledger: Ledger) -> None:
        self.app = app
        self.decider = FaultDecider(plan)
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = (
            request_kind(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        )
        if kind is None or not self.decider.eligible(kind):
            await self.app(scope, receive, send)
            return
        ordinal, fault = self.decider.decide(kind)
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.ledger.fault(ordinal, kind, fault.value)
        plan = self.decider.plan
        if fault in _AFTER_COMMIT:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if fault is Fault.DROP_AFTER_COMMIT:
                await _drop(scope, send)
                return
            await asyncio.sleep(plan.late_seconds)
            for message in held:
                await send(message)
            return
        if fault is Fault.DELAY:
            await asyncio.sleep(plan.delay_seconds)
            await self.app(scope, receive, send)
        elif fault is Fault.DROP:
            await _drop(scope, send)
        elif fault is Fault.HTTP_429:
            body = json.dumps({"errors": [{"msg": "Too Many Requests"}]}).encode()
            retry = [(b"retry-after", str(plan.retry_after_seconds).encode())]
            await _respond(send, 429, body, b"application/json", retry)
        elif fault is Fault.HTTP_500:
            body = json.dumps({"errors": [{"msg": MSG_INTERNAL}]}).encode()
            await _respond(send, 500, body, b"application/json", [])
        else:
            status = int(fault.value)
            await _respond(send, status, _HTML[status], b"text/html", [])


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"fault option {name} needs a number, not {text!r}") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"fault option {name} needs a finite number")
    return value


def parse_fault_spec(spec: str) -> FaultPlan:
    """Parse the ``--faults`` option: comma-separated ``name=value`` items.

    * ``seed=TEXT``; ``500=P``, ``502=P``, ``503=P``, ``429=P``, ``delay=P``, ``drop=P``,
      ``late_after_commit=P``, ``drop_after_commit=P`` (probabilities, total ≤ 1);
    * ``delay_s=SECONDS``, ``late_s=SECONDS``, ``retry_after=SECONDS``;
    * ``at=N:FAULT`` or ``at=KIND#N:FAULT`` (repeatable): a fixed fault for the N-th eligible request, or
      the N-th request of KIND (e.g. ``at=onboarding#1:drop_after_commit``);
    * ``kinds=KIND+KIND`` restricts faults to those request kinds.

    Example: ``seed=7,503=0.1,429=0.05,at=onboarding#1:late_after_commit,late_s=5``.
    """
    probabilities: dict[Fault, float] = {}
    schedule: list[ScheduledFault] = []
    options: dict[str, Any] = {}
    faults_by_name = {f.value: f for f in Fault}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep:
            raise InputError(f"fault option {item!r} must look like name=value")
        if name == "seed":
            options["seed"] = value
        elif name in faults_by_name:
            probabilities[faults_by_name[name]] = _number(value, name)
        elif name in ("delay_s", "late_s"):
            options["delay_seconds" if name == "delay_s" else "late_seconds"] = _number(value, name)
        elif name == "retry_after":
            options["retry_after_seconds"] = int(_number(value, name))
        elif name == "kinds":
            options["kinds"] = frozenset(k.strip() for k in value.split("+") if k.strip())
        elif name == "at":
            where, colon, fault_name = value.rpartition(":")
            kind, hash_sign, nth_text = where.rpartition("#")
            if not colon or fault_name not in faults_by_name or not nth_text.isdigit():
                raise InputError(f"fault option at={value!r} must look like N:FAULT or KIND#N:FAULT")
            schedule.append(
                ScheduledFault(int(nth_text), faults_by_name[fault_name], kind if hash_sign else None)
            )
        else:
            raise InputError(f"unknown fault option {name!r}")
    return FaultPlan(probabilities=probabilities, schedule=tuple(schedule), **options)
