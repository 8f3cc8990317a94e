"""HTTP to a dYdX-v3-compatible API: the signed bytes out unchanged, bounded retries, honest outcomes.

dYdX verified the request path (with its query) and, for HMAC calls, the body byte for byte, so a request
is sent with the path exactly as signed (``raw_path``: nothing re-encoded) and the body exactly as given.

Retries happen only where a retry can help: HTTP 429, 5xx and transport errors, at most five attempts, with
exponential backoff and jitter (``Retry-After`` honoured). Any other 4xx is final and reported with dYdX's
own message. Every failed attempt is classified: *not sent* (connection refused, 429) or *may have taken
effect* (timeout after the request went out, connection dropped, 5xx — dYdX once answered 500 to an
onboarding it had performed, dydx-v3-python #220). A request that must not happen twice is resent after
the second kind only when the caller's ``reconcile`` hook, which asks the server for the state, says so.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from dydx_airgap.online.http import (
    RetryPolicy,
    is_loopback_host,
    new_client,
    one_line,
    read_capped,
    system_jitter,
    transport_failure,
)
from dydx_airgap.shared.canonical_json import check_unicode_text
from dydx_airgap.shared.errors import FormatError, InputError, RemoteError, VerificationError
from dydx_airgap.shared.timestamps import now_utc

T = TypeVar("T")

#: Largest response body the relay reads (dYdX answers are a few KiB).
MAX_RESPONSE_BYTES = 1 << 20


@dataclass(frozen=True)
class ApiRequest:
    """One request exactly as it must reach the server.

    ``journal_headers`` names the headers that may be recorded; the others (an onboarding signature is the
    seed of the default API secret, a passphrase is a secret) are never written anywhere.
    """

    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    journal_headers: frozenset[str] = frozenset()

    def describe(self) -> str:
        return f"{self.method} {self.path}"

    def recordable_headers(self) -> dict[str, str]:
        allowed = {h.lower() for h in self.journal_headers}
        return {k: v for k, v in self.headers.items() if k.lower() in allowed}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]  # lower-case names

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; anything else is the server's fault, reported in one line."""
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_no_constant)
            check_unicode_text(data)
        except (UnicodeDecodeError, ValueError, RecursionError, FormatError) as exc:
            raise RemoteError(f"the API answered HTTP {self.status} with a body that is not JSON") from exc
        return data

    def error_message(self) -> str:
        """dYdX's ``{"errors": [{"msg": ...}]}`` text, or a short description of what came instead."""
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_no_constant)
            check_unicode_text(data)
        except (UnicodeDecodeError, ValueError, RecursionError, FormatError):
            data = None
        messages: list[str] = []
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            for entry in data["errors"][:3]:
                if isinstance(entry, dict) and isinstance(entry.get("msg"), str):
                    param = entry.get("param")
                    text = entry["msg"] + (f" ({param})" if isinstance(param, str) else "")
                    messages.append(text)
        elif isinstance(data, dict) and isinstance(data.get("msg"), str):
            messages.append(data["msg"])
        text = "; ".join(messages) if messages else "no dYdX error message"
        return one_line(text, 200)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


@dataclass(frozen=True)
class Attempt:
    """What one send produced: a response, or a transport failure and whether it may have taken effect."""

    number: int
    request: ApiRequest
    started: datetime
    finished: datetime
    response: ApiResponse | None = None
    failure: str | None = None
    may_have_taken_effect: bool = False

    @property
    def retryable(self) -> bool:
        if self.response is None:
            return True
        return self.response.status == 429 or self.response.status >= 500

    def describe(self) -> str:
        if self.response is not None:
            return f"HTTP {self.response.status} ({self.response.error_message()})"
        return self.failure or "no response"


@dataclass(frozen=True)
class Reconciled(Generic[T]):
    """The reconcile hook found the request took effect after all; ``value`` says what it found."""

    value: T


class RequestFailed(RemoteError):
    """Retries are exhausted or forbidden. ``uncertain``: some attempt may have taken effect, unresolved."""

    def __init__(self, message: str, *, uncertain: bool, last: Attempt | None = None) -> None:
        super().__init__(message)
        self.uncertain = uncertain
        self.last = last


Observer = Callable[[Attempt], None]
Reporter = Callable[[str], None]


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text[:9]))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now_utc()).total_seconds())


class ApiClient:
    """A synchronous client of one API origin. ``transport`` is any httpx transport (tests, proxies)."""

    def __init__(
        self,
        origin: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = system_jitter,
        report: Reporter | None = None,
    ) -> None:
        self.origin = httpx.URL(origin)
        if self.origin.raw_path not in (b"", b"/") or self.origin.query:
            raise InputError("the API origin must not carry a path or query")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._report = report or (lambda line: None)
        self._client = new_client(
            loopback=is_loopback_host(self.origin.host),
            headers={"Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- one attempt ----

    def url_for(self, path: str) -> httpx.URL:
        """The URL with ``path`` (and query) byte for byte; refuse anything httpx would re-encode."""
        if not path.startswith("/") or not path.isascii():
            raise VerificationError(f"request path {path[:60]!r} must be ASCII and start with /")
        raw = path.encode("ascii")
        url = self.origin.copy_with(raw_path=raw)
        if url.raw_path != raw:
            raise VerificationError(
                f"request path {path[:60]!r} would be re-encoded on the way out; the signature would fail"
            )
        return url

    def attempt(self, request: ApiRequest, number: int = 1) -> Attempt:
        url = self.url_for(request.path)
        http_request = self._client.build_request(
            request.method, url, content=request.body, headers=dict(request.headers)
        )
        if http_request.url.raw_path != request.path.encode("ascii"):
            raise VerificationError("the request path changed while the request was built; nothing was sent")
        started = now_utc()
        try:
            response = self._client.send(http_request, stream=True)
            try:
                body = read_capped(response, MAX_RESPONSE_BYTES, "the API answer")
            finally:
                response.close()
        except httpx.TransportError as exc:
            text, maybe = transport_failure(exc)
            return Attempt(number, request, started, now_utc(), failure=text, may_have_taken_effect=maybe)
        except httpx.DecodingError:
            return Attempt(
                number,
                request,
                started,
                now_utc(),
                failure="the answer could not be decoded",
                may_have_taken_effect=True,
            )
        headers = {k.lower(): v for k, v in response.headers.items()}
        answer = ApiResponse(response.status_code, body, headers)
        # A 5xx may come after the handler did its work; a 429 is refused before any work is done.
        maybe = answer.status >= 500
        return Attempt(number, request, started, now_utc(), response=answer, may_have_taken_effect=maybe)

    # ---- retries ----

    def _pause_before(self, retry_number: int, attempt: Attempt) -> float:
        delay = self.retry.backoff(retry_number, self._jitter())
        if attempt.response is not None and attempt.response.status in (429, 503):
            asked = _retry_after_seconds(attempt.response.headers.get("retry-after"))
            if asked is not None:
                if asked > self.retry.max_retry_after:
                    raise RequestFailed(
                        f"{attempt.request.describe()}: the API asks to wait {asked:.0f} s (Retry-After); "
                        "try again later",
                        uncertain=attempt.may_have_taken_effect,
                        last=attempt,
                    )
                delay = max(delay, asked)
        return delay

    def call(
        self,
        build: ApiRequest | Callable[[int], ApiRequest],
        *,
        idempotent: bool = True,
        reconcile: Callable[[Attempt], Reconciled[T] | None] | None = None,
        observe: Observer | None = None,
    ) -> ApiResponse | Reconciled[T]:
        """Send until a final answer (2xx or a non-retryable status) or until retries run out.

        ``build(n)`` makes attempt ``n``'s request (a ladder picks a fresh rung each time). For a request
        that must not take effect twice (``idempotent=False``), an attempt that may have taken effect is
        followed by ``reconcile(attempt)`` before any resend: it returns ``Reconciled`` if the server shows
        the request took effect, None if it certainly did not (resend), or raises if it cannot tell.
        """
        uncertain = False
        last: Attempt | None = None
        for number in range(1, self.retry.max_attempts + 1):
            if last is not None:
                pause = self._pause_before(number - 1, last)
                self._report(
                    f"attempt {number - 1}/{self.retry.max_attempts} of {last.request.describe()}: "
                    f"{last.describe()}; retrying in {pause:.1f} s"
                )
                self._sleep(pause)
                if last.may_have_taken_effect and not idempotent:
                    if reconcile is None:
                        raise RequestFailed(
                            f"{last.request.describe()}: {last.describe()}; it may have taken effect and "
                            "cannot be checked, so it was not sent again",
                            uncertain=True,
                            last=last,
                        )
                    found = reconcile(last)
                    if found is not None:
                        return found
                    uncertain = False  # the server showed that nothing happened
            request = build(number) if callable(build) else build
            current = self.attempt(request, number)
            if observe is not None:
                observe(current)
            uncertain = uncertain or current.may_have_taken_effect
            if not current.retryable:
                assert current.response is not None
                return current.response
            last = current
        assert last is not None
        raise RequestFailed(
            f"{last.request.describe()} failed {self.retry.max_attempts} times (last: {last.describe()})",
            uncertain=uncertain and not idempotent,
            last=last,
        )

    # ---- convenience for reads ----

    def get_json(
        self, path: str, headers: Mapping[str, str] | None = None, *, observe: Observer | None = None
    ) -> Any:
        """GET with retries; a non-2xx answer becomes a RemoteError carrying dYdX's message."""
        request = ApiRequest("GET", path, None, dict(headers or {}), frozenset())
        result = self.call_idempotent(request, observe=observe)
        raise_for_status(result, f"GET {path.split('?')[0]}")
        return result.json()

    def call_idempotent(
        self, build: ApiRequest | Callable[[int], ApiRequest], *, observe: Observer | None = None
    ) -> ApiResponse:
        """:meth:`call` for a request that may be repeated freely (reads)."""
        result: ApiResponse | Reconciled[None] = self.call(build, observe=observe)
        assert isinstance(result, ApiResponse)  # no reconcile hook, so never Reconciled
        return result


def raise_for_status(response: ApiResponse, what: str) -> None:
    if not response.ok:
        raise RemoteError(f"{what}: the API answered HTTP {response.status}: {response.error_message()}")
