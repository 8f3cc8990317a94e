"""Every flag more than one relay command takes, declared once with one help text.

A command takes such a flag by decorating itself with the option here, so the same flag cannot drift in
meaning or help between commands. Flags only one command has stay with that command, and so does ``--out``:
what it names is each command's own. ``broadcast --timeout`` (a receipt wait) is not the HTTP timeout here.
"""

from __future__ import annotations

from pathlib import Path

import click

STATE_HELP = (
    "Relay state directory (journals, API credentials, evidence key). "
    "Default: $DYDX_RELAY_STATE or ~/.local/state/dydx-airgap/relay."
)

state_option = click.option(
    "--state", "state_dir", type=click.Path(path_type=Path, file_okay=False), help=STATE_HELP
)
api_option = click.option(
    "--api",
    "api_url",
    required=True,
    metavar="URL",
    help="Base URL of the dYdX v3 API (scheme://host[:port]); loopback URLs are always allowed.",
)
#: ``--api`` where it only narrows a choice (api-keys export: a key held for two APIs), not a target.
api_filter_option = click.option(
    "--api",
    "api_url",
    metavar="URL",
    help="Only the key held for this API (needed if the relay holds the key for two).",
)
allow_host_option = click.option(
    "--allow-host", is_flag=True, help="Allow an --api host other than the network's dYdX API."
)
network_option = click.option(
    "--network",
    required=True,
    metavar="N",
    help="Chain id or name (mainnet, sepolia, local, ...) the payload is, or will be signed, for.",
)
address_option = click.option(
    "--address", required=True, metavar="ADDR", help="Ethereum address of the dYdX user."
)
node_option = click.option(
    "--node",
    "node_url",
    required=True,
    metavar="URL",
    help="REST (LCD) base URL of a dYdX Chain node: https://…, or http:// only for a node on this machine.",
)
rpc_option = click.option(
    "--rpc", "rpc_url", required=True, metavar="URL", help="JSON-RPC URL of an Ethereum node of the network."
)
expect_address_option = click.option(
    "--expect-address",
    "expect_addresses",
    multiple=True,
    metavar="ADDR",
    help="A firm address whose payloads may be sent (repeatable; with those pinned by 'dydx-relay "
    "pin-address'); a payload of any other key is refused.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
http_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=20.0,
    show_default=True,
    help="Seconds to wait for each HTTP answer.",
)
retry_base_option = click.option(
    "--retry-base",
    type=click.FloatRange(0, 30),
    default=0.5,
    show_default=True,
    help="First retry pause in seconds (doubled per retry, at most 30 s, with jitter; 5 attempts).",
)
expires_in_option = click.option(
    "--expires-in",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="How long the signed transaction stays valid (60s to 24h, e.g. 30m): sets its timeout height.",
)
priority_fee_option = click.option(
    "--priority-fee-gwei", metavar="GWEI", help="Tip per gas instead of the node's suggestion."
)
valid_minutes_option = click.option(
    "--valid-minutes",
    type=click.IntRange(1, 1440),
    default=60,
    show_default=True,
    help="How long the cold machine may sign (and the relay broadcast) this request.",
)
