"""``dydx-relay v4 prepare KIND`` and ``dydx-relay v4 broadcast SIGNED``: the relay's dYdX Chain steps.

    dydx-relay v4 prepare deposit --node URL --public-key v4-public.json --amount 500 --out req.json
    (cold machine) dydx-offline sign v4 req.json --v4-network testnet --out signed.json ...
    dydx-relay v4 broadcast signed.json --node URL

Results go to stdout (``--json`` for scripts); progress and retries to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.online.options import (
    expires_in_option,
    http_timeout_option,
    json_option,
    node_option,
    state_option,
)
from dydx_airgap.online.v4.prepare import KINDS
from dydx_airgap.shared.display import escape_for_display


def _err(line: str) -> None:
    click.echo(escape_for_display(line), err=True)


def _rows(rows: list[tuple[str, str]]) -> None:
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        click.echo(f"  {name.ljust(width)}  {escape_for_display(value)}")


@click.group("v4")
def v4() -> None:
    """dYdX v4 (dYdX Chain): prepare transactions for the cold key, broadcast what it signed."""


@v4.command("prepare")
@click.argument("kind", type=click.Choice(KINDS))
@node_option
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The cold account's v4-public-key payload (from dydx-offline derive-v4, imported here).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the v4-tx-request.",
)
@expires_in_option
@click.option(
    "--amount", metavar="USDC", help="USDC amount, exact decimals (deposit, withdraw, transfer, send)."
)
@click.option(
    "--to",
    metavar="ADDRESS",
    help="Receiving dydx1… address (withdraw, transfer: default this account; send: required).",
)
@click.option(
    "--subaccount",
    type=click.IntRange(0, 128_000),
    default=0,
    show_default=True,
    help="The subaccount deposited to, withdrawn or transferred from, or a trading key may trade.",
)
@click.option("--to-subaccount", type=click.IntRange(0, 128_000), help="Receiving subaccount (transfer).")
@click.option(
    "--hot-key", metavar="HEX|FILE", help="The trading host's compressed public key (add-trading-key)."
)
@click.option(
    "--id",
    "authenticator_id",
    type=click.IntRange(0),
    help="Authenticator id to remove (remove-trading-key).",
)
@click.option(
    "--fee-denom",
    type=click.Choice(("usdc", "native")),
    default="usdc",
    show_default=True,
    help="Pay the fee in USDC or in the chain's native token.",
)
@click.option("--memo", default="", help="Memo (at most 256 characters).")
@state_option
@http_timeout_option
@json_option
def prepare(
    kind: str,
    node_url: str,
    public_key: Path,
    out: Path,
    expires_in: str,
    amount: str | None,
    to: str | None,
    subaccount: int,
    to_subaccount: int | None,
    hot_key: str | None,
    authenticator_id: int | None,
    fee_denom: str,
    memo: str,
    state_dir: Path | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Prepare an unsigned dYdX Chain transaction (a v4-tx-request) for the cold machine.

    Reads the account number, sequence and latest height from --node, checks that smart accounts are
    active (trading keys), balances and subaccount positions, simulates the gas and computes the fee.
    add-trading-key authorises --hot-key with the recipe of spec §B3 (place/cancel orders on --subaccount,
    nothing else).
    """
    from dydx_airgap.online.v4.expiry import parse_duration
    from dydx_airgap.online.v4.prepare import PrepareOptions, prepare_v4
    from dydx_airgap.shared.errors import InputError

    if len(memo) > 256:
        raise InputError("--memo is at most 256 characters")
    result = prepare_v4(
        PrepareOptions(
            kind=kind, node_url=node_url, account_file=public_key, out=out,
            expires_in=parse_duration(expires_in),
            state_dir=state_dir, amount=amount, to=to, subaccount=subaccount, to_subaccount=to_subaccount,
            hot_key=hot_key, authenticator_id=authenticator_id, fee_denom=fee_denom, memo=memo,
            timeout=timeout, report=_err,
        )
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo(f"prepared v4 {kind} for {result.account.address} on {result.account.network.chain_id}")
    _rows([*result.rows, ("request", f"{result.payload.id}  fingerprint {result.payload.fingerprint}"),
           ("expires", str(result.payload.expires)), ("file", str(out))])  # fmt: skip
    for note in result.notes:
        click.echo(f"note: {escape_for_display(note)}")
    click.echo(
        f"next: on the cold machine, 'dydx-offline sign v4 {out.name} --v4-network "
        f"{result.account.network.name} --out signed-{kind}.json' (with your key options); then here, "
        f"'dydx-relay v4 broadcast signed-{kind}.json --node URL'"
    )


@v4.command("broadcast")
@click.argument("signed_file", type=click.Path(path_type=Path, dir_okay=False))
@node_option
@state_option
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0, 3600),
    default=120.0,
    show_default=True,
    help="Seconds to wait for inclusion (the transaction stays sent either way).",
)
@click.option(
    "--poll",
    "poll_interval",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds between status queries.",
)
@click.option(
    "--trading-key-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="add-trading-key: where to write what the trading bot needs (default trading-key-<id>.json).",
)
@http_timeout_option
@json_option
def broadcast(
    signed_file: Path,
    node_url: str,
    state_dir: Path | None,
    wait_seconds: float,
    poll_interval: float,
    trading_key_out: Path | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Check a v4-signed-tx against its journaled request, broadcast it once, wait for its block.

    The signature must verify over the SignDoc rebuilt from the request; the account's sequence must still
    be the one signed for (if it moved, sign a new request: the relay never re-signs); the timeout height
    must not have passed. Exit codes: 0 included, 3 still pending, 4 included but failed, 1 refused.
    """
    from dydx_airgap.online.v4.broadcast import BroadcastOptions, broadcast_v4
    from dydx_airgap.shared.fsutil import read_untrusted_file

    result = broadcast_v4(
        read_untrusted_file(signed_file),
        BroadcastOptions(
            node_url=node_url, state_dir=state_dir, wait_seconds=wait_seconds, poll_interval=poll_interval,
            timeout=timeout, trading_key_out=trading_key_out, report=_err,
        ),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    verb = "broadcast and included" if result.sent else "included (nothing was sent again)"
    click.echo(f"v4 {result.kind} transaction {verb}")
    _rows([("tx hash", result.tx_hash), ("block", str(result.height)),
           ("from", f"{result.address}  (sequence {result.sequence})"), ("gas used", str(result.gas_used)),
           ("request", result.request_id)])  # fmt: skip
    key = result.trading_key
    if key is not None:
        click.echo("the trading bot signs with its hot key for the owner, under this authenticator:")
        _rows([("owner address", key.owner_address), ("account number", str(result.account_number)),
               ("authenticator id", str(key.authenticator_id)), ("chain id", key.chain_id),
               ("hot key", key.hot_public_key.hex()), ("verdict", key.verdict.reason),
               ("written to", str(result.trading_key_file))])  # fmt: skip
    for note in result.notes:
        click.echo(f"note: {escape_for_display(note)}")
