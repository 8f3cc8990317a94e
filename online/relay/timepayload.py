"""The ``time`` payload: the API's clock as the relay saw it, for the cold machine's timestamp ladder.

Unsigned and informational (the cold side shows the offset it implies for the operator to judge). The
relay time recorded is the middle of the exchange, the best estimate of when the server read its clock.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.relay.api_client import ApiClient
from dydx_airgap.online.relay.server_clock import fetch_server_time
from dydx_airgap.online.relay.target import resolve_api_target
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload


def make_time_payload(
    api_url: str,
    network_id: int | str,
    *,
    allow_host: bool = False,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    retry: RetryPolicy | None = None,
) -> Payload:
    """GET /v3/time from ``api_url`` and wrap it as a ``time`` payload for ``network_id``."""
    network = get_network(network_id)
    target = resolve_api_target(api_url, network, allow_host=allow_host)
    with ApiClient(target.origin, transport=transport, timeout=timeout, retry=retry) as client:
        measured = fetch_server_time(client)
        received = now_utc()
    relay_time = received - timedelta(seconds=measured.round_trip / 2)
    return new_payload(
        "time",
        network.chain_id,
        None,
        {
            "server_time": iso_ms(measured.server),
            "relay_time": iso_ms(relay_time),
            "source": f"{target.origin}/v3/time",
        },
        now=relay_time,
    )
