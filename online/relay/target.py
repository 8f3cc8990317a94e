"""Which API or node the relay may talk to.

A signed payload names its network; the relay refuses to send it to a host that is not that network's dYdX
API, so a typo or a hostile configuration cannot hand a replayable onboarding signature (the seed of the
default API secret) to a stranger. Loopback addresses (the local API) are always allowed; any other host
needs ``--allow-host``, and plain HTTP is allowed only on loopback.

The same host rule holds for a dYdX Chain node (``--node``, :func:`parse_node_url`): its answers decide the
account number, sequence, fee and timeout height the cold key signs, so a plain-HTTP path to a remote node
would let anyone on it choose them. There is no allow-list there: dYdX Chain REST nodes are operators'
choices, and what the node says is checked against the chain id the request names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from dydx_airgap.online.http import is_loopback_host
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import InputError, PolicyError

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ApiTarget:
    """A checked API base URL: scheme, host and port only (dYdX paths start at /v3/ and are signed)."""

    origin: str  # e.g. "https://api.dydx.exchange" or "http://127.0.0.1:8300"
    host: str
    loopback: bool


def refuse_plain_http(origin: str, host: str, loopback: bool) -> None:
    """The one rule: TLS to every host that is not this machine."""
    if not loopback and not origin.startswith("https://"):
        raise PolicyError(f"refusing plain HTTP to {host}: use https:// (http:// only for loopback)")


@dataclass(frozen=True)
class NodeTarget:
    """A checked ``--node`` URL. ``base`` (origin and an optional path prefix, which hosted nodes sometimes
    use for access keys) is used to connect and never shown; ``origin`` is safe to show and record."""

    base: str
    origin: str
    host: str
    loopback: bool


def parse_node_url(url: str, flag: str = "--node") -> NodeTarget:
    """Check a dYdX Chain node's REST base URL: https, or http on loopback only; no query or user info."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{flag} is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError(f"{flag} must start with https:// (or http:// for a node on this machine)")
    host = (parts.hostname or "").lower()
    if not host:
        raise InputError(f"{flag} names no host")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"{flag} must not contain user info (user:password@)")
    if parts.query or parts.fragment:
        raise InputError(f"{flag} must not have a query or fragment: request paths are appended to it")
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{shown_host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    loopback = is_loopback_host(host)
    refuse_plain_http(origin, host, loopback)
    return NodeTarget(base=origin + parts.path.rstrip("/"), origin=origin, host=host, loopback=loopback)


def parse_api_url(url: str) -> ApiTarget:
    """Normalise ``--api``: no path, query, fragment or user info (they would change the signed path)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"--api {text[:80]!r} is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError(f"--api must start with https:// (or http:// for a local API), not {text[:80]!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise InputError(f"--api {text[:80]!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise InputError("--api must not contain user info (user:password@)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(
            "--api must be just scheme://host[:port]: dYdX signs the path from /v3/ on, so a prefix would "
            "break every signature"
        )
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{shown_host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return ApiTarget(origin=origin, host=host, loopback=is_loopback_host(host))


def resolve_api_target(url: str, network: Network, *, allow_host: bool = False) -> ApiTarget:
    """Parse ``--api`` and apply the host policy for ``network``."""
    target = parse_api_url(url)
    if target.loopback:
        return target
    refuse_plain_http(target.origin, target.host, target.loopback)
    expected = parse_api_url(network.api_host)
    if target.origin != expected.origin and not allow_host:
        raise PolicyError(
            f"{target.origin} is not the dYdX API of {network.label} ({expected.origin}); "
            "pass --allow-host if you really mean to send signed requests there"
        )
    return target
