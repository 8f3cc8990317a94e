"""`dydx-relay submit | time | api-keys list|export`: the relay's commands (the logic lives in online/relay/).

Output shows ids, never secrets: API secrets and passphrases stay in the state directory's 0600 file, and the
onboarding signature (the seed of the default API secret) is never printed or journaled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.online.options import (
    address_option,
    allow_host_option,
    api_filter_option,
    api_option,
    expect_address_option,
    http_timeout_option,
    json_option,
    network_option,
    retry_base_option,
    state_option,
)
from dydx_airgap.shared.cli_support import say
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.transport.payload import MAX_PAYLOAD_BYTES

_DETAIL_LABELS = {
    "user_id": "user id",
    "account_id": "account id",
    "position_id": "positionId",
    "stark_key": "STARK key",
    "api_key": "API key",
    "created_key": "new API key",
    "deleted_key": "deleted API key",
}


def _progress(line: str) -> None:
    say(f"relay: {line}", err=True)


def _render_submit(result: object) -> list[str]:
    from dydx_airgap.online.relay.submit import SubmitResult

    assert isinstance(result, SubmitResult)
    network = get_network(result.network_id)
    head = {
        "accepted": "accepted",
        "accepted-after-check": "accepted (confirmed by a status query)",
        "already-accepted": "already accepted earlier, nothing was sent",
    }[result.outcome]
    lines = [f"{head}: {result.action} for {result.address} on {network.label} at {result.api}"]
    details = result.details
    for name, label in _DETAIL_LABELS.items():
        value = details.get(name)
        if value:
            suffix = ""
            if name in ("api_key", "created_key") and result.credentials_file:
                suffix = f"  (secret and passphrase stored in {result.credentials_file}, mode 0600)"
            lines.append(f"  {label:<16}{value}{suffix}")
    for key in details.get("lost_secret_keys") or []:
        lines.append(f"  {'created, secret lost':<16}{key}")
    recovery = details.get("recovery")
    if isinstance(recovery, dict):
        for name, value in recovery.items():
            lines.append(f"  {name:<16}{value}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append(
        f"payload fingerprint {result.fingerprint}, "
        f"journal entry {result.journal_entry} ({result.journal_path})"
    )
    return lines


@click.command()
@click.argument("payload_file", type=click.Path(path_type=Path, dir_okay=False))
@api_option
@network_option
@state_option
@allow_host_option
@http_timeout_option
@retry_base_option
@click.option(
    "--wait",
    is_flag=True,
    help="If a ladder's first rung is not usable yet, wait for it (by the API's clock, never past its end).",
)
@expect_address_option
@json_option
def submit(
    payload_file: Path,
    api_url: str,
    network: str,
    state_dir: Path | None,
    allow_host: bool,
    timeout: float,
    retry_base: float,
    wait: bool,
    expect_addresses: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify a signed payload from the cold machine and submit it to the API (journaled, idempotent)."""
    from dydx_airgap.online.http import RetryPolicy
    from dydx_airgap.online.relay.submit import RelayOptions, submit_payload

    data = read_untrusted_file(payload_file, cap=MAX_PAYLOAD_BYTES)
    options = RelayOptions(
        state_dir=state_dir,
        allow_host=allow_host,
        timeout=timeout,
        retry=RetryPolicy(base_delay=retry_base),
        report=_progress,
        wait_for_ladder=wait,
        expect_addresses=expect_addresses,
    )
    result = submit_payload(data, api_url, network, options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in _render_submit(result):
            say(line)


@click.command("time")
@api_option
@network_option
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@allow_host_option
@http_timeout_option
@retry_base_option
@json_option
def time_command(
    api_url: str, network: str, out: Path, allow_host: bool, timeout: float, retry_base: float, as_json: bool
) -> None:
    """Write a `time` payload (the API's clock as seen now) for the cold machine's timestamp ladder."""
    from dydx_airgap.online.http import RetryPolicy
    from dydx_airgap.online.relay.timepayload import make_time_payload

    payload = make_time_payload(
        api_url, network, allow_host=allow_host, timeout=timeout, retry=RetryPolicy(base_delay=retry_base)
    )
    atomic_write_bytes(out, payload.to_bytes(), 0o644)
    body = payload.body
    if as_json:
        click.echo(json.dumps({"file": str(out), "fingerprint": payload.fingerprint, **dict(body)}, indent=2))
        return
    say(
        f"wrote {out}: server time {body['server_time']}, relay time {body['relay_time']} "
        f"(from {body['source']}), fingerprint {payload.fingerprint}"
    )


def _stored_credentials(api_url: str, address: str, state_dir: Path | None) -> tuple[str, Any, Any, Any]:
    """(checksum address, API target, credential store, the stored key to authenticate with)."""
    from dydx_airgap.online.relay.credentials import CredentialStore
    from dydx_airgap.online.relay.target import parse_api_url
    from dydx_airgap.online.state_dir import default_state_dir

    checksum = to_checksum_address(parse_address(address))
    target = parse_api_url(api_url)
    store = CredentialStore(state_dir or default_state_dir())
    chosen = store.pick(target.origin, checksum)
    if chosen is None:
        raise InputError(
            f"no stored API credentials for {checksum} at {target.origin} in {store.path.parent}: "
            "submit the onboarding (or an api-key-create) through this relay first"
        )
    # Credentials are only ever sent to the origin they came from, so no --network host check is needed.
    return checksum, target, store, chosen


@click.group("api-keys")
def api_keys() -> None:
    """API keys held for an address (HMAC-authenticated with the stored credentials)."""


@api_keys.command("list")
@api_option
@address_option
@state_option
@http_timeout_option
@retry_base_option
@json_option
def list_keys(
    api_url: str, address: str, state_dir: Path | None, timeout: float, retry_base: float, as_json: bool
) -> None:
    """List the user's API keys; secrets are shown only as <redacted> (they stay in the state directory)."""
    from dydx_airgap.online.http import RetryPolicy
    from dydx_airgap.online.relay.api_client import ApiClient
    from dydx_airgap.online.relay.api_key_calls import list_api_keys
    from dydx_airgap.online.relay.journal import REDACTED
    from dydx_airgap.online.relay.server_clock import ServerClock

    checksum, target, store, chosen = _stored_credentials(api_url, address, state_dir)
    stored = {k.key: k for k in store.for_address(target.origin, checksum)}
    retry = RetryPolicy(base_delay=retry_base)
    with ApiClient(target.origin, timeout=timeout, retry=retry, report=_progress) as client:
        keys = list_api_keys(client, chosen.credentials, ServerClock.measure(client))
    rows = []
    for key in keys:
        entry = stored.get(key)
        rows.append(
            {
                "key": key,
                "label": entry.label if entry else None,
                "stored": entry is not None,
                "secret": REDACTED if entry else None,
                "passphrase": REDACTED if entry else None,
            }
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "address": checksum,
                    "api": target.origin,
                    "authenticated_with": chosen.key,
                    "api_keys": rows,
                },
                indent=2,
            )
        )
        return
    say(f"API keys of {checksum} at {target.origin} ({len(rows)}):")
    for row in rows:
        held = f"secret {REDACTED} (stored here)" if row["stored"] else "secret not held by this relay"
        say(f"  {row['key']}  {row['label'] or '-':<8} {held}")


@api_keys.command("export")
@click.argument("key")
@click.option(
    "--to", "to", metavar="RECIPIENT", help="The trading host's age1… recipient or ssh-ed25519 key."
)
@click.option(
    "--to-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file holding the recipient (age-keygen -y key.txt > recipient.txt on the trading host).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The age file to write (0600), for age -d -i key.txt on the trading host.",
)
@api_filter_option
@state_option
@json_option
def export_key(
    key: str,
    to: str | None,
    to_file: Path | None,
    out: Path,
    api_url: str | None,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Seal an API key this relay stored (key, secret, passphrase) to the trading host's age recipient.

    The secret is never printed: only the sealed file holds it, and only the recipient's private key opens it.
    """
    from dydx_airgap.online.relay.key_export import export_api_key
    from dydx_airgap.online.state_dir import default_state_dir

    result = export_api_key(state_dir or default_state_dir(), key, to, to_file, out, api_url)
    if as_json:
        click.echo(json.dumps(result.summary()))
        return
    say(
        f"sealed API key {result.key} of {result.address} ({result.api}, network {result.network_id}) to "
        f"recipient {result.recipient.fingerprint} -> {out} (0600)"
    )
    say(f"on the trading host: compare {result.recipient.trading_host_check()} (first 16 hex digits)")
    say(f"then: age -d -i key.txt {out} > api-key.json")


@click.command("account")
@api_option
@address_option
@state_option
@http_timeout_option
@retry_base_option
@json_option
def account_command(
    api_url: str, address: str, state_dir: Path | None, timeout: float, retry_base: float, as_json: bool
) -> None:
    """Show what the API holds for a user: registration on L1, the account, its position id and balance."""
    from dydx_airgap.online.http import RetryPolicy
    from dydx_airgap.online.relay.api_client import ApiClient, raise_for_status
    from dydx_airgap.online.relay.api_key_calls import get_account, hmac_get
    from dydx_airgap.online.relay.server_clock import ServerClock
    from dydx_airgap.shared.dydx_v3.ids import account_id

    checksum, target, _store, chosen = _stored_credentials(api_url, address, state_dir)
    with ApiClient(
        target.origin, timeout=timeout, retry=RetryPolicy(base_delay=retry_base), report=_progress
    ) as client:
        clock = ServerClock.measure(client)
        response = hmac_get(client, chosen.credentials, clock, "/v3/users")
        raise_for_status(response, "GET /v3/users")
        user = response.json().get("user", {})
        account = get_account(client, chosen.credentials, clock, account_id(checksum, 0))
    if as_json:
        click.echo(json.dumps({"user": user, "account": account}, indent=2))
        return
    say(f"user {checksum}: registered on L1: {user.get('isRegistered')}")
    say(
        f"account {account.get('id')}: position {account.get('positionId')}, "
        f"STARK key {account.get('starkKey')}, "
        f"quote balance {account.get('quoteBalance')} USDC, equity {account.get('equity')}"
    )


@click.command("pin-address")
@click.argument("address")
@state_option
def pin_address(address: str, state_dir: Path | None) -> None:
    """Pin a firm Ethereum address in the relay's state: from then on, submit and broadcast refuse payloads
    signed by any key not pinned (or named with --expect-address)."""
    from dydx_airgap.online.firm_addresses import add_pin
    from dydx_airgap.online.state_dir import default_state_dir

    pinned, pins = add_pin(state_dir or default_state_dir(), address)
    say(f"pinned {pinned}; {len(pins)} firm address(es) pinned")
