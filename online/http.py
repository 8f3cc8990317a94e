"""The one HTTP base of the online side: every client (the dYdX API, an Ethereum node) is built here.

One place decides what all of them must do the same way: verify TLS with one cached context, never follow a
redirect (it would re-issue a signed request somewhere else), ignore proxy settings for loopback hosts, cap
every answer's size, describe transport failures in the same words, and retry only with the bounded,
jittered backoff of :class:`RetryPolicy`. The clients differ only in what they send and how they read the
answer; swap the httpx transport (tests, proxies), not the code.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from dydx_airgap.shared import __version__
from dydx_airgap.shared.errors import InputError, RemoteError

USER_AGENT = f"dydx-airgap-relay/{__version__}"
#: The brief for the relay: never more than five attempts per request.
MAX_ATTEMPTS_LIMIT = 5


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (loading the CA store costs ~15 ms each time)."""
    return httpx.create_ssl_context()


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def system_jitter() -> float:
    """A uniform number in [0, 1) from the OS CSPRNG (the project bans the ``random`` module)."""
    return secrets.randbelow(1 << 30) / (1 << 30)


def one_line(text: str, limit: int = 200) -> str:
    """Server text made safe for one terminal line: control characters escaped, length capped."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": each wait is between half and all of min(cap, base·2^n)."""

    max_attempts: int = MAX_ATTEMPTS_LIMIT
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    #: A server asking for a longer pause than this gets a clear "try later" instead of a silent hang.
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise InputError(f"attempts must be from 1 to {MAX_ATTEMPTS_LIMIT}")
        if not (
            0 <= self.base_delay <= self.max_delay and self.multiplier >= 1 and self.max_retry_after >= 0
        ):
            raise InputError("retry delays must satisfy 0 <= base <= cap and multiplier >= 1")

    def backoff(self, retry_number: int, jitter: float) -> float:
        """The pause before retry ``retry_number`` (1 = the first retry); ``jitter`` is in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier ** (retry_number - 1))
        return ceiling / 2 + min(max(jitter, 0.0), 1.0) * ceiling / 2


def transport_failure(exc: httpx.TransportError) -> tuple[str, bool]:
    """A one-line description and whether the request may have reached the server's handler."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting (nothing was sent)", False
    if isinstance(exc, httpx.ConnectError):
        return "could not connect (nothing was sent)", False
    if isinstance(exc, httpx.PoolTimeout):
        return "no free connection (nothing was sent)", False
    if isinstance(exc, httpx.ReadTimeout):
        return "timed out waiting for the answer (the request was sent)", True
    if isinstance(exc, httpx.WriteTimeout | httpx.WriteError):
        return "the connection failed while sending", True
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer", True
    if isinstance(exc, httpx.ReadError):
        return "the connection broke while waiting for the answer", True
    return f"transport error ({type(exc).__name__})", True


def new_client(
    *,
    loopback: bool,
    headers: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    connect_timeout: float = 10.0,
) -> httpx.Client:
    """A client with the rules every online connection follows (see the module docstring)."""
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        verify=tls_context(),
        follow_redirects=False,
        # Proxy variables apply to real hosts only; a loopback service is always reached directly.
        trust_env=not loopback,
        headers={"User-Agent": USER_AGENT, **headers},
    )


def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body of a streamed response, refusing more than ``limit`` bytes (``what``: "the API answer")."""
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise RemoteError(f"{what} is larger than {limit} bytes; refusing it")
        chunks.append(chunk)
    return b"".join(chunks)
