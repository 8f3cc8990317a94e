"""`serve-local`, `serve-chain` and `serve-v4`: the local dYdX v3 API, the local EVM and the local dYdX Chain
node, for rehearsals."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, get_network
from dydx_airgap.shared.errors import InputError


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
    from dydx_airgap.online.rehearsal.v3_api import parse_fault_spec, serve

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
    "--chain-id",
    default=LOCAL_REHEARSAL_CHAIN_ID,
    show_default=True,
    type=click.IntRange(1, 2**64 - 1),
    help="Chain id of the local chain.",
)
@click.option(
    "--operator", required=True, help="The local API's registration signer (GET /v3/local/operator)."
)
@click.option(
    "--fund",
    multiple=True,
    metavar="ADDRESS[:ETH[:USDC]]",
    help="Give an account ETH and stand-in USDC (default 10 ETH, 100000 USDC); repeatable.",
)
@click.option(
    "--deployment-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the deployment JSON here (atomically: a script may wait for the file, then read it).",
)
@click.option("--no-automine", is_flag=True, help="Keep transactions pending until an evm_mine request.")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Compiled-contract cache (default ~/.cache/dydx-airgap).",
)
def serve_chain(
    host: str,
    port: int,
    chain_id: int,
    operator: str,
    fund: tuple[str, ...],
    deployment_out: Path | None,
    no_automine: bool,
    cache_dir: Path | None,
) -> None:
    """Run the local rehearsal chain (py-evm) with stand-in USDC and StarkPerpetual until interrupted."""
    from dydx_airgap.online.rehearsal.evm import start_local_chain
    from dydx_airgap.online.rehearsal.evm.deploy import FundSpec

    specs = [FundSpec.parse(text) for text in fund]
    try:
        chain = start_local_chain(
            operator=operator,
            chain_id=chain_id,
            fund=specs,
            host=_loopback_only(host),
            port=port,
            deployment_out=deployment_out,
            automine=not no_automine,
            cache_dir=cache_dir,
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot start the local chain: {exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    deployment = chain.deployment
    click.echo(f"local chain {deployment.chain_id} on {chain.url}")
    click.echo(f"  StarkPerpetual {deployment.stark_perpetual.address}")
    click.echo(f"  USDC (local)   {deployment.usdc.address}")
    click.echo(f"  operator       {deployment.operator}")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        chain.stop()


def _fund_genesis(fund: tuple[str, ...], usdc_denom: str) -> list[dict[str, object]]:
    accounts: list[dict[str, object]] = []
    for text in fund:
        address, _, amount = text.partition(":")
        if not amount.isdigit() or int(amount) == 0:
            raise InputError(f"--fund {text!r} must look like ADDRESS:USDC_BASE_UNITS (a positive integer)")
        accounts.append({"address": address, "balances": [{"denom": usdc_denom, "amount": amount}]})
    return accounts


@click.command("serve-v4")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1317, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("local-dydx-v4.sqlite3"),
    show_default=True,
    help="SQLite state (created 0600); survives restarts. The genesis applies only to a new file.",
)
@click.option(
    "--chain-id",
    default="dydx-testnet-4",
    show_default=True,
    help="Chain id whose SignDocs the node verifies (dydx-testnet-4 or dydx-mainnet-1).",
)
@click.option(
    "--genesis",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON genesis: heights, accounts, balances, subaccounts, authenticators.",
)
@click.option(
    "--fund",
    multiple=True,
    metavar="ADDRESS:USDC",
    help="Give an address USDC (base units, 6 decimals) at genesis; repeatable.",
)
@click.option(
    "--block-time",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds between simulated blocks (0: only on POST /local/blocks).",
)
@click.option(
    "--faults", help="Fault injection for tests, e.g. seed=7,drop_after_commit=0.2 (off by default)."
)
def serve_v4(
    host: str,
    port: int,
    db: Path,
    chain_id: str,
    genesis: Path | None,
    fund: tuple[str, ...],
    block_time: float,
    faults: str | None,
) -> None:
    """Run a local dYdX-Chain-compatible REST node that checks transactions as the chain does."""
    from dydx_airgap.online.rehearsal.v4_chain import apply_genesis, load_genesis, parse_fault_spec, serve
    from dydx_airgap.online.rehearsal.v4_chain.state import ChainState
    from dydx_airgap.shared.dydx_v4.networks import network_by_chain_id

    network = network_by_chain_id(chain_id)
    plan = parse_fault_spec(faults) if faults else None
    funded = _fund_genesis(fund, network.usdc_denom)

    def make_genesis(state: ChainState) -> ChainState:
        if genesis is not None:
            state = load_genesis(state, genesis)
        return apply_genesis(state, {"accounts": funded}) if funded else state

    serve(
        network=network,
        db=db,
        host=_loopback_only(host),
        port=port,
        genesis=make_genesis,
        faults=plan,
        block_seconds=block_time,
    )
