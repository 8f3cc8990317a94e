"""`dydx-offline handoff`: seal chosen accounts' trading secrets to the trading host's age recipient."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.evidence.log import append_entry, log_head
from dydx_airgap.offline.options import (
    evidence_log_option,
    json_option,
    key_source_from,
    key_source_options,
    network_option,
    vault_password_option,
    yes_option,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.transport.payload import decode_payload
from dydx_airgap.shared.transport.secrecy import SECRET_FILE_MODE, secret_notice

_file = click.Path(path_type=Path, dir_okay=False)

WARNING = (
    "THESE KEYS TRADE AND WITHDRAW: whoever holds the recipient's private key can place orders, transfer "
    "and withdraw the funds of these accounts. Seal only to a recipient you compared on both screens."
)


def age_file_for(out: Path) -> Path:
    """The plain age file written beside the payload, for ``age -d -i key.txt`` on the trading host."""
    return out.with_name(out.name + ".age")


@click.command()
@click.option(
    "--to", "to", metavar="RECIPIENT", help="The trading host's age1… recipient or ssh-ed25519 key."
)
@click.option(
    "--to-file", type=_file, help="A file holding the recipient (as it crossed from the trading host)."
)
@click.option(
    "--vault",
    "vault",
    type=click.Path(path_type=Path),
    required=True,
    help="derive's output folder, or the vault file in it.",
)
@vault_password_option
@key_source_options
@network_option
@click.option("--accounts", default="0", show_default=True, help="Account indices: 0, 0-9, 0,2-5.")
@click.option(
    "--out",
    type=_file,
    required=True,
    help="The sealed-credentials payload to write (0600); the age file goes to OUT.age beside it.",
)
@yes_option
@json_option
@evidence_log_option
def handoff(
    to: str | None,
    to_file: Path | None,
    vault: Path,
    vault_password_file: Path | None,
    network: Network,
    accounts: str,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    **kwargs: Any,
) -> None:
    """Seal the STARK private key and API credentials of vault accounts to the trading host's age recipient.

    Shows a review (which secrets of which accounts, the recipient and its fingerprint), asks for the
    recipient fingerprint to be typed, then writes a sealed-credentials payload (origin-signed, for
    `export`) and the same age file as OUT.age: the trading host decrypts it with `age -d -i key.txt`.
    """
    from dydx_airgap.offline.handoff.sealing import WHAT_IS_SEALED, build_handoff, select_entries, vault_file
    from dydx_airgap.offline.hygiene import harden_process
    from dydx_airgap.offline.keys.prompts import get_secret
    from dydx_airgap.offline.keys.sources import load_keys, parse_account_range
    from dydx_airgap.offline.keys.vault import read_vault
    from dydx_airgap.offline.review.screen import confirm, render, show
    from dydx_airgap.shared.display import escape_for_display
    from dydx_airgap.shared.transport.age_recipient import recipient_from_options

    # Everything that can be refused without a secret is refused before any secret is asked for.
    recipient = recipient_from_options(to, to_file)
    age_out = age_file_for(out)
    for path in (out, age_out):
        if path.exists():
            raise InputError(
                f"{path} already exists: a handoff never overwrites a file; choose another --out"
            )
    indices = parse_account_range(accounts)
    vault_path = vault_file(vault)
    if not vault_path.exists():
        raise InputError(f"no vault at {vault_path}: --vault names derive's output folder or its vault file")
    harden_process()
    source = key_source_from(kwargs)
    keys = list(load_keys(source, sorted(indices)))
    passphrase = get_secret("vault passphrase", vault_password_file, option_hint="--vault-password-file FILE")
    entries = select_entries(read_vault(vault_path, passphrase), network, indices, vault_path)
    sealed = build_handoff(network, entries, keys, recipient)
    p = sealed.payload

    show(render("sealed handoff of trading secrets", sealed.rows), to_stderr=as_json)
    click.secho(f"  !! {escape_for_display(WARNING)}", fg="red", bold=True, err=as_json)
    how = confirm(recipient.fingerprint, yes, what="recipient fingerprint", action="seal and write")
    entry = append_entry(
        evidence_log,
        "handoff",
        {
            "kind": p.kind,
            "payload_id": p.id,
            "payload_sha256": p.digest.hex(),
            "fingerprint": p.fingerprint,
            "network_id": p.network_id,
            "address": p.address,
            "accounts": sealed.accounts,
            "secrets": WHAT_IS_SEALED,
            "recipient": recipient.text,
            "recipient_type": recipient.type,
            "recipient_fingerprint": recipient.fingerprint,
            "confirmation": how,
            "file": out.name,
            "age_file": age_out.name,
        },
    )
    atomic_write_bytes(out, p.to_bytes(), SECRET_FILE_MODE)
    atomic_write_bytes(age_out, sealed.age_text.encode("ascii"), SECRET_FILE_MODE)
    again = decode_payload(read_untrusted_file(out))
    if again.to_bytes() != p.to_bytes() or read_untrusted_file(age_out) != sealed.age_text.encode("ascii"):
        raise VerificationError(f"{out} or {age_out} does not read back as written")
    head = log_head(entry)
    click.echo(f"evidence log {evidence_log.absolute()}: entry {entry['seq']}, head {head}", err=True)
    click.echo(f"note: {out} and {age_out} {secret_notice(p.kind)}", err=True)
    listed = ", ".join(str(a["account"]) for a in sealed.accounts)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "kind": p.kind,
                    "id": p.id,
                    "fingerprint": p.fingerprint,
                    "file": str(out),
                    "age_file": str(age_out),
                    "network_id": p.network_id,
                    "accounts": sealed.accounts,
                    "recipient": recipient.text,
                    "recipient_fingerprint": recipient.fingerprint,
                    "log_head": head,
                }
            )
        )
    else:
        click.echo(
            f"sealed account(s) {listed} on {network.label} to recipient {recipient.fingerprint} -> {out} "
            f"(payload, fingerprint {p.fingerprint}) and {age_out} (for age -d -i key.txt)"
        )
