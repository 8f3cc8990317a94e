"""`serve-local` and `serve-chain`: the local dYdX-compatible API and the local EVM, for rehearsals."""

from __future__ import annotations

from pathlib import Path

import click

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.networks import LOCAL_REHEARSAL_CHAIN_ID, get_network


def _loopback_only(host: str) -> str:
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        raise InputError(f"the rehearsal servers listen on loopback only, not {host}")
    return host


@click.command("serve-local")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8300, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("local-dydx-api.sqlite3"),
    show_default=True,
    help="SQLite state (created 0600); survives restarts.",
)
@click.option(
    "--network",
    default=str(LOCAL_REHEARSAL_CHAIN_ID),
    show_default=True,
    help="Chain id the API verifies EIP-712 signatures for.",
)
@click.option(
    "--deployment",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The local chain's deployment file, to follow registrations and deposits.",
)
@click.option("--rpc", "rpc_url", help="The local chain's JSON-RPC URL (default: from the deployment file).")
@click.option("--faults", help="Fault injection for tests, e.g. seed=7,503=0.1,429=0.05 (off by default).")
def serve_local(
    host: str,
    port: int,
    db: Path,
    network: str,
    deployment: Path | None,
    rpc_url: str | None,
    faults: str | None,
) -> None:
    """Run a local dYdX-v3-compatible API that verifies signatures exactly as dYdX did."""
    from .local_api import parse_fault_spec, serve

    if rpc_url is not None and deployment is None:
        raise InputError("--rpc needs --deployment (the contracts to follow)")
    serve(
        host=_loopback_only(host),
        port=port,
        db=db,
        chain_id=get_network(network).chain_id,
        faults=parse_fault_spec(faults) if faults else None,
        deployment=deployment,
        rpc_url=rpc_url,
    )


@click.command("serve-chain")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8545, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--operator", required=True, help="The local API's registration signer (GET /v3/local/operator)."
)
@click.option("--fund", multiple=True, metavar="ADDRESS[:ETH[:USDC]]", help="Fund an account; repeatable.")
@click.option(
    "--deployment-out", type=click.Path(path_type=Path, dir_okay=False), help="Write the deployment here."
)
def serve_chain(
    host: str, port: int, operator: str, fund: tuple[str, ...], deployment_out: Path | None
) -> None:
    """Run the local rehearsal chain (chain id 31337) with stand-in USDC and StarkPerpetual."""
    from .chain.__main__ import main as chain_main

    argv = [
        "--host",
        _loopback_only(host),
        "--port",
        str(port),
        "--chain-id",
        str(LOCAL_REHEARSAL_CHAIN_ID),
        "--operator",
        operator,
    ]
    for spec in fund:
        argv += ["--fund", spec]
    if deployment_out is not None:
        argv += ["--deployment-out", str(deployment_out)]
    code = chain_main(argv)
    if code:
        raise click.exceptions.Exit(code)
