"""`dydx-relay escape prepare | broadcast`: the relay's half of getting USDC out of frozen dYdX v3.

    dydx-relay escape prepare --network mainnet --rpc URL --address ADDR \\
        (--escape-file escape-1.html | --explorer https://explorer.dydx.exchange --position ID) --out req.json
    (cold machine) dydx-offline sign escape req.json --network mainnet --out signed-escape.json ...
    dydx-relay escape broadcast signed-escape.json --rpc URL
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from dydx_airgap.online.options import (
    address_option,
    expect_address_option,
    json_option,
    network_option,
    priority_fee_option,
    rpc_option,
    state_option,
    valid_minutes_option,
)
from dydx_airgap.shared.cli_support import say


def _err(line: str) -> None:
    say(line, err=True)


@click.group("escape")
def escape() -> None:
    """dYdX v3 escape hatch (the contracts are frozen): prepare verifyEscape, escape and withdraw for the
    cold key, then broadcast what it signed, in order."""


@escape.command("prepare")
@network_option
@rpc_option
@address_option
@click.option(
    "--escape-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The explorer's escape page saved as HTML, its data-props JSON, or the same fields as JSON.",
)
@click.option(
    "--explorer",
    "explorer_url",
    metavar="URL",
    help="Fetch the escape page from this StarkEx explorer (e.g. https://explorer.dydx.exchange).",
)
@click.option(
    "--position",
    "position_id",
    type=click.IntRange(0, 2**64 - 1),
    help="The position id (default with --explorer: the one this address deposited to, from LogDeposit).",
)
@click.option("--stark-key", metavar="HEX", help="The account's STARK key (from derive/recover); must match.")
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The account's public-key file from 'dydx-offline derive' (origin-signed): its address and STARK "
    "key must be the escape's.",
)
@click.option(
    "--state-update-tx",
    metavar="HASH",
    help="The last updateState transaction (skips searching the StarkPerpetual's LogUpdateState events).",
)
@click.option(
    "--withdraw-to",
    metavar="ADDR",
    help="Withdraw to this address with withdrawTo instead of to the registered one (the cold side asks "
    "for --allow-withdraw-to).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the request.",
)
@state_option
@priority_fee_option
@valid_minutes_option
@json_option
def prepare(
    network: str,
    rpc_url: str,
    address: str,
    escape_file: Path | None,
    explorer_url: str | None,
    position_id: int | None,
    stark_key: str | None,
    public_key_file: Path | None,
    state_update_tx: str | None,
    withdraw_to: str | None,
    out: Path,
    state_dir: Path | None,
    priority_fee_gwei: str | None,
    valid_minutes: int,
    as_json: bool,
) -> None:
    """Prepare the escape of one position as an escape-request for the cold machine.

    Verifies the proof (the contract's own checks), checks that the contract is frozen, that the shared
    state is the last updateState's new state word for word (never getVaultRoot), that the STARK key is
    registered to --address; then reads whether the fact is registered, the escape used, a withdrawal or a
    deposit pending, and prepares the transactions still needed with nonces, fees and gas.
    """
    from dydx_airgap.online.escape.prepare import EscapePrepareOptions, prepare_escape
    from dydx_airgap.online.onchain.units import parse_gwei
    from dydx_airgap.shared.dydx_v3.networks import get_network
    from dydx_airgap.shared.errors import InputError

    key: int | None = None
    if stark_key is not None:
        text = stark_key.strip().lower().removeprefix("0x")
        if not 0 < len(text) <= 64 or any(c not in "0123456789abcdef" for c in text):
            raise InputError("--stark-key must be the STARK public key in hex (up to 64 digits)")
        key = int(text, 16)
    if public_key_file is not None:
        from dydx_airgap.shared.ethereum.address import same_address
        from dydx_airgap.shared.fsutil import read_untrusted_file
        from dydx_airgap.shared.transport.payload import decode_payload

        public = decode_payload(read_untrusted_file(public_key_file))  # checks the origin signature
        if public.kind != "public-key":
            raise InputError(f"{public_key_file} is a {public.kind} payload, not a public-key file")
        if public.network_id != get_network(network).chain_id:
            raise InputError(f"{public_key_file} is for network {public.network_id}, not --network {network}")
        if public.address is None or not same_address(public.address, address):
            raise InputError(f"{public_key_file} is {public.address}'s public key, not --address {address}")
        from_file = int(public.body["stark_public_key"], 16)
        if key is not None and key != from_file:
            raise InputError("--stark-key and --public-key name different STARK keys")
        key = from_file
    if state_update_tx is not None:
        tx = state_update_tx.strip().lower()
        if len(tx) != 66 or not tx.startswith("0x") or any(c not in "0123456789abcdef" for c in tx[2:]):
            raise InputError("--state-update-tx must be a transaction hash (0x and 64 hex digits)")
        state_update_tx = tx
    options = EscapePrepareOptions(
        network=get_network(network),
        address=address,
        rpc_url=rpc_url,
        out=out,
        escape_file=escape_file,
        explorer_url=explorer_url,
        position_id=position_id,
        stark_key=key,
        state_update_tx=state_update_tx,
        withdraw_to=withdraw_to,
        state_dir=state_dir,
        priority_fee_wei=None if priority_fee_gwei is None else parse_gwei(priority_fee_gwei),
        valid_for=timedelta(minutes=valid_minutes),
        report=_err,
    )
    result = prepare_escape(options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    from dydx_airgap.online.onchain.units import format_eth, format_gwei

    say(
        f"prepared the escape of position {result.verified.position_id} for {result.address} "
        f"on {result.network.label}"
    )
    rows = [
        *result.proof_rows,
        ("source", result.source),
        ("state update", f"{result.state_update_tx} (the shared state matches its new state word for word)"),
        ("recipient", result.recipient),
    ]
    for step in result.steps:
        rows.append(
            (
                f"tx {step.nonce}",
                f"{step.action}: {step.function} on {step.to}; gas {step.gas_limit} ({step.gas_note})",
            )
        )
    rows += [
        (
            "fees",
            f"max {format_gwei(result.fees.max_fee_per_gas)}, "
            f"priority {format_gwei(result.fees.max_priority_fee_per_gas)}",
        ),
        ("max cost", f"{format_eth(result.max_cost_wei)} of {format_eth(result.eth_balance)}"),
        ("request", f"{result.payload.id}  fingerprint {result.payload.fingerprint}"),
        ("file", str(result.out)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        say(f"  {name.ljust(width)}  {value}")
    for note in result.notes:
        say(f"note: {note}")
    say(
        f"next: on the cold machine, 'dydx-offline sign escape {result.out.name} --network "
        f"{result.network.chain_id} --out signed-escape.json' (with your key options); then here, "
        "'dydx-relay escape broadcast signed-escape.json --rpc URL'"
    )


@escape.command("broadcast")
@click.argument("signed_file", type=click.Path(path_type=Path, dir_okay=False))
@rpc_option
@state_option
@click.option(
    "--timeout",
    type=click.FloatRange(0, 86_400),
    default=300.0,
    show_default=True,
    help="Seconds to wait for each receipt (a transaction stays sent either way).",
)
@expect_address_option
@json_option
def broadcast(
    signed_file: Path,
    rpc_url: str,
    state_dir: Path | None,
    timeout: float,
    expect_addresses: tuple[str, ...],
    as_json: bool,
) -> None:
    """Broadcast a signed escape, in order and each transaction once: verifyEscape; escape only once
    isValid(fact) is true and the call succeeds; then withdraw. Rerun the same command to continue after
    an interruption. Exit codes: 0 all mined, 3 one still pending at --timeout, 4 one reverted, 1 refused."""
    from dydx_airgap.online.escape.broadcast import broadcast_escape
    from dydx_airgap.online.onchain.broadcast import BroadcastOptions
    from dydx_airgap.shared.dydx_v3.calldata import format_usdc
    from dydx_airgap.shared.fsutil import read_untrusted_file

    options = BroadcastOptions(
        rpc_url=rpc_url, state_dir=state_dir, timeout=timeout, report=_err, expect_addresses=expect_addresses
    )
    result = broadcast_escape(read_untrusted_file(signed_file), options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    for item in result.results:
        verb = "broadcast and mined" if item.sent else "mined (not sent again)"
        say(f"{item.action}: {item.tx_hash} {verb} in block {item.block_number}")
        for name, value in item.checks:
            say(f"  {name}: {value}")
        for note in item.notes:
            say(f"  note: {note}")
    if result.usdc_received is not None:
        say(f"USDC withdrawn: {format_usdc(result.usdc_received)} USDC to {result.recipient}")
