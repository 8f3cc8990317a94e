"""`serve-local`, `serve-chain` and `serve-v4`: the local dYdX v3 API, the local EVM and the local dYdX Chain
node, for rehearsals; `freeze-chain` puts a running local chain's exchange into escape mode."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from dydx_airgap.online.options import json_option, rpc_option
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, get_network
from dydx_airgap.shared.errors import InputError, RemoteError

#: Kept in step with online/rehearsal/escape/service.py (imported lazily: Vyper and py-evm are heavy).
ESCAPE_FIXTURE_CHOICES = ("mainnet-pos1",)
MAX_SYNTHETIC_POSITIONS = 32


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
@click.option(
    "--escape-fixture",
    type=click.Choice(ESCAPE_FIXTURE_CHOICES),
    help="Start frozen with this escape state: mainnet-pos1 = the real mainnet position-1 state, its STARK "
    "key registered to its real address, the contract funded to pay it.",
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
    escape_fixture: str | None,
) -> None:
    """Run the local rehearsal chain (py-evm) with stand-in USDC, StarkPerpetual and escape verifier, and
    the explorer stand-in under /explorer, until interrupted."""
    from dydx_airgap.online.rehearsal.escape.service import attach_escape
    from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
    from dydx_airgap.online.rehearsal.evm.deploy import FundSpec

    specs = [FundSpec.parse(text) for text in fund]

    def setup(started: LocalChain) -> None:
        attach_escape(started, escape_fixture)

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
            setup=setup,
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
    click.echo(f"  escape verifier {deployment.escape_verifier.address}")
    click.echo(f"  operator       {deployment.operator}")
    click.echo(
        f"  explorer       {chain.url}/explorer" + (" (frozen: escape mode)" if escape_fixture else "")
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        chain.stop()


@click.command("freeze-chain")
@rpc_option
@click.option(
    "--synthetic-positions",
    default=0,
    show_default=True,
    type=click.IntRange(0, MAX_SYNTHETIC_POSITIONS),
    help="Also add this many generated positions (synthetic assets, negative funding) to the state.",
)
@click.option(
    "--synthetic-owner",
    metavar="ADDR",
    help="Register the generated positions' STARK keys to this address (default: the chain's deployer).",
)
@click.option(
    "--no-update",
    is_flag=True,
    help="Freeze on the last state update as it is: deposits made since stay pending (reclaimable).",
)
@json_option
def freeze_chain(
    rpc_url: str, synthetic_positions: int, synthetic_owner: str | None, no_update: bool, as_json: bool
) -> None:
    """Put the local rehearsal chain's exchange into escape mode, as dYdX's got there.

    A state update accepts the deposits seen in LogDeposit events (its programOutput carries the new
    shared state), then an unserviced forced withdrawal, 14 days of chain time and freezeRequest freeze
    the StarkPerpetual stand-in. The proofs appear on the chain's explorer stand-in.
    """
    options: dict[str, Any] = {"updateState": not no_update, "syntheticPositions": synthetic_positions}
    if synthetic_owner is not None:
        options["syntheticOwner"] = synthetic_owner
    result = _local_rpc(rpc_url, "dydx_localEscapeFreeze", [options])
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    click.echo(f"frozen: shared state {result['sharedStateHash']} (batch {result['batchId']})")
    click.echo(f"  updateState tx  {result['updateStateTx']}")
    click.echo(f"  freezeRequest tx {result['freezeTx']}")
    for position in result["positions"]:
        click.echo(
            f"  position {position['positionId']}: owner {position['owner']}, "
            f"{position['nAssets']} synthetic assets, escape amount {position['withdrawal']}"
        )
    click.echo(f"  explorer        {result['explorer']}/escape/<positionId> (cookie account=<owner>)")


def _local_rpc(url: str, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call to the local chain (loopback only: the rehearsal methods exist nowhere else)."""
    import httpx

    from dydx_airgap.online.http import is_loopback_host, new_client

    parsed = httpx.URL(url)
    if parsed.scheme != "http" or not is_loopback_host(parsed.host):
        raise InputError("--rpc must be the local rehearsal chain: an http:// URL on this machine")
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    try:
        with new_client(loopback=True, headers={"Content-Type": "application/json"}, timeout=300) as client:
            response = client.post(url, json=body)
    except httpx.TransportError as exc:
        raise RemoteError(f"cannot reach the local chain at {url}: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        raise RemoteError(f"the local chain at {url} did not answer JSON-RPC") from None
    if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
        raise RemoteError(f"the local chain at {url} did not answer JSON-RPC")
    if "error" in answer:
        error = answer["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise RemoteError(f"{method}: {message or 'refused'}")
    return answer["result"]


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
