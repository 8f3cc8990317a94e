"""`dydx-relay prepare` and `dydx-relay broadcast`: the relay's side of the on-chain onboarding steps.

    dydx-relay prepare register|approve|deposit --rpc URL --api URL --network N --address ADDR \\
        [--amount 1250.50] --out request.json
    (cold machine) dydx-offline sign tx request.json --network N --out signed.json ...
    dydx-relay broadcast signed.json --rpc URL

Results go to stdout (``--json`` for scripts); progress and retries to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from dydx_airgap.online.onchain.broadcast import (
    DEFAULT_TIMEOUT,
    BroadcastOptions,
    BroadcastResult,
    WaitStatus,
    broadcast_signed,
)
from dydx_airgap.online.onchain.prepare import ACTIONS, PreparedTx, PrepareOptions, prepare_transaction
from dydx_airgap.online.onchain.units import format_eth, format_gwei, parse_gwei
from dydx_airgap.online.options import (
    address_option,
    allow_host_option,
    api_option,
    expect_address_option,
    json_option,
    network_option,
    priority_fee_option,
    rpc_option,
    state_option,
    valid_minutes_option,
)
from dydx_airgap.shared.cli_support import say
from dydx_airgap.shared.dydx_v3.calldata import UNLIMITED_ALLOWANCE, format_usdc
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.fsutil import read_untrusted_file


def _err(line: str) -> None:
    say(line, err=True)


def _rows(rows: list[tuple[str, str]], indent: int = 2) -> None:
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        say(f"{' ' * indent}{name.ljust(width)}  {value}")


# ---- prepare ----------------------------------------------------------------------------------------------


@click.command("prepare")
@click.argument("action", type=click.Choice(ACTIONS))
@rpc_option
@api_option
@network_option
@address_option
@click.option(
    "--amount", metavar="USDC", help="USDC amount, exact decimals (deposit: required; approve: optional)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the tx-request.",
)
@state_option
@priority_fee_option
@click.option(
    "--nonce", type=click.IntRange(0), help="Use this nonce (e.g. to replace a pending transaction)."
)
@click.option(
    "--gas-limit",
    type=click.IntRange(21_000, 30_000_000),
    help="Use this gas limit instead of estimate + 30 %.",
)
@valid_minutes_option
@allow_host_option
@click.option(
    "--allow-insufficient-funds", is_flag=True, help="Prepare even if the address lacks ETH or USDC now."
)
@json_option
def prepare(
    action: str,
    rpc_url: str,
    api_url: str,
    network: str,
    address: str,
    amount: str | None,
    out: Path,
    state_dir: Path | None,
    priority_fee_gwei: str | None,
    nonce: int | None,
    gas_limit: int | None,
    valid_minutes: int,
    allow_host: bool,
    allow_insufficient_funds: bool,
    as_json: bool,
) -> None:
    """Prepare an unsigned register / approve / deposit transaction (a tx-request) for the cold machine.

    Gathers what the cold machine cannot know: dYdX's registration signature and the account's STARK key
    and position id (from the API, with the credentials stored at onboarding), the nonce, EIP-1559 fees
    and a gas estimate (from the node). approve without --amount is UNLIMITED, as dydx3 did.
    """
    net = get_network(network)
    options = PrepareOptions(
        action=action,
        network=net,
        address=address,
        rpc_url=rpc_url,
        api_url=api_url,
        out=out,
        amount=amount,
        state_dir=state_dir,
        priority_fee_wei=parse_gwei(priority_fee_gwei) if priority_fee_gwei is not None else None,
        nonce=nonce,
        gas_limit=gas_limit,
        valid_for=timedelta(minutes=valid_minutes),
        allow_host=allow_host,
        allow_insufficient_funds=allow_insufficient_funds,
        report=_err,
    )
    result = prepare_transaction(options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    _show_prepared(result)


def _allowance_text(units: int) -> str:
    return "unlimited" if units == UNLIMITED_ALLOWANCE else f"{format_usdc(units)} USDC"


def _show_prepared(result: PreparedTx) -> None:
    tx = result.payload.body["transaction"]
    say(f"prepared {result.action} for {result.address} on {result.network.label}")
    rows = [
        ("to", f"{result.to} ({result.to_label})"),
        ("function", result.function),
        *((f"  {name}", value) for name, value in result.arguments),
        ("nonce", f"{result.nonce}  ({result.nonce_note})"),
        ("gas limit", f"{result.gas_limit}  ({result.gas_note})"),
        (
            "fees",
            f"max {format_gwei(tx['max_fee_per_gas'])}, "
            f"priority {format_gwei(tx['max_priority_fee_per_gas'])} ({result.fees.priority_source}); "
            f"base fee now {format_gwei(result.fees.base_fee_per_gas)}",
        ),
        ("max cost", f"{format_eth(result.max_cost_wei)} (gas limit x max fee)"),
        (
            "balances",
            f"{format_eth(result.eth_balance)}, {format_usdc(result.usdc_balance)} USDC, "
            f"allowance {_allowance_text(result.allowance)}",
        ),
        ("request", f"{result.payload.id}  fingerprint {result.payload.fingerprint}"),
        ("expires", str(result.payload.expires)),
        ("file", str(result.out)),
    ]
    _rows(rows)
    for note in result.notes:
        say(f"note: {note}")
    signed = f"signed-{result.action}.json"
    say(
        f"next: on the cold machine, 'dydx-offline sign tx {result.out.name} "
        f"--network {result.network.chain_id} --out {signed}' (with your key options and the --account "
        f"whose address is {result.payload.address}); "
        f"then here, 'dydx-relay broadcast {signed} --rpc URL'"
    )


# ---- broadcast --------------------------------------------------------------------------------------------


class _Progress:
    """A live line on a terminal (rich), or a plain line now and then when stderr is a file or pipe."""

    def __init__(self) -> None:
        self._live: Any = None
        self._last_plain = -1.0
        self._last_pool: bool | None = None
        self._interactive = sys.stderr.isatty()

    def __call__(self, status: WaitStatus) -> None:
        where = "in the node's pool" if status.in_pool else "not in the node's pool"
        text = (
            f"waiting for {status.action} {status.tx_hash[:12]}…  {where}, head block {status.head_block}, "
            f"{status.elapsed:.0f} s of {status.timeout:.0f} s"
        )
        if self._interactive:
            if self._live is None:
                from rich.console import Console

                self._live = Console(stderr=True).status(text, spinner="dots")
                self._live.start()
            else:
                self._live.update(text)
            return
        # Plain output: the first look, any change, then every 10 seconds.
        if status.in_pool != self._last_pool or status.elapsed - self._last_plain >= 10:
            _err(text)
            self._last_plain = status.elapsed
            self._last_pool = status.in_pool

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


@click.command("broadcast")
@click.argument("signed_file", type=click.Path(path_type=Path, dir_okay=False))
@rpc_option
@state_option
@click.option(
    "--timeout",
    type=click.FloatRange(0, 86_400),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the receipt (the transaction stays sent either way).",
)
@click.option(
    "--rebroadcast",
    is_flag=True,
    help="If the node no longer knows an already-broadcast transaction, send the same bytes again.",
)
@expect_address_option
@json_option
def broadcast(
    signed_file: Path,
    rpc_url: str,
    state_dir: Path | None,
    timeout: float,
    rebroadcast: bool,
    expect_addresses: tuple[str, ...],
    as_json: bool,
) -> None:
    """Broadcast a signed-tx from the cold machine, once, and wait for its receipt.

    The raw transaction must be exactly what the journaled tx-request asked (chain id, nonce, fees, gas,
    recipient, value, data) and signed by its address. A transaction already broadcast is never sent again;
    its receipt is looked up instead. Exit codes: 0 mined, 3 still pending at --timeout, 4 reverted,
    1 refused or failed (nothing sent, or see the message).
    """
    data = read_untrusted_file(signed_file)
    progress = _Progress()
    options = BroadcastOptions(
        rpc_url=rpc_url,
        state_dir=state_dir,
        timeout=timeout,
        rebroadcast=rebroadcast,
        progress=progress,
        report=_err,
        expect_addresses=expect_addresses,
    )
    try:
        result = broadcast_signed(data, options)
    finally:
        progress.stop()
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    _show_broadcast(result)


def _show_broadcast(result: BroadcastResult) -> None:
    verb = "broadcast and mined" if result.sent else "mined (nothing was sent by this run)"
    say(f"{result.action} transaction {verb}")
    fee = result.fee_paid_wei
    rows = [
        ("tx hash", result.tx_hash),
        ("block", str(result.block_number)),
        ("from", f"{result.address}  (nonce {result.nonce})"),
        ("gas used", str(result.gas_used)),
        (
            "fee paid",
            format_eth(fee) if fee is not None else "unknown (no effective gas price in the receipt)",
        ),
        ("request", result.request_id),
        *result.checks,
    ]
    _rows(rows)
    for note in result.notes:
        say(f"note: {note}")
