"""Fetch the StarkEx explorer's escape page for one position (escape-hatch.md §A6).

``GET <base>/escape/<positionId>`` with the cookie ``account=<address>``: the explorer keys its user on
that cookie (public information). The page is read capped and parsed by the shared, strict parser; only
https, or http to this machine (the rehearsal's explorer stand-in), is accepted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from dydx_airgap.online.http import is_loopback_host, new_client, one_line, read_capped, transport_failure
from dydx_airgap.shared.dydx_v3.escape.sources import MAX_SOURCE_BYTES, EscapeData, escape_data_from_page
from dydx_airgap.shared.errors import InputError, RemoteError


def explorer_page_url(base: str, position_id: int) -> tuple[str, bool]:
    parts = urlsplit(base.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(
            f"--explorer {one_line(base, 80)!r} is not a base URL like https://explorer.dydx.exchange"
        )
    loopback = is_loopback_host(parts.hostname)
    if parts.scheme == "http" and not loopback:
        raise InputError("--explorer must use https (plain http only for an explorer on this machine)")
    return f"{base.strip().rstrip('/')}/escape/{position_id}", loopback


def fetch_escape_page(
    base: str, position_id: int, address: str, transport: httpx.BaseTransport | None = None
) -> tuple[EscapeData, str]:
    """The escape data the explorer shows ``address`` for ``position_id``, and the URL it came from."""
    url, loopback = explorer_page_url(base, position_id)
    with new_client(
        loopback=loopback, headers={"Cookie": f"account={address.lower()}"}, transport=transport
    ) as client:
        try:
            with client.stream("GET", url) as response:
                body = read_capped(response, MAX_SOURCE_BYTES, "the explorer page")
                status = response.status_code
        except httpx.TransportError as exc:
            raise RemoteError(f"the explorer at {url}: {transport_failure(exc)[0]}") from None
    if status == 404:
        raise RemoteError(
            f"the explorer has no escape page for position {position_id} ({url} answered 404): the position "
            "does not exist there, the contract is not frozen, or its escape was already used (then prepare "
            "from the escape data saved earlier with --escape-file)"
        )
    if status != 200:
        raise RemoteError(f"the explorer answered HTTP {status} for {url}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteError(f"the explorer page {url} is not UTF-8 text") from None
    return escape_data_from_page(text, f"the explorer page {url}"), url
