"""`keygen`, `derive` and `recover`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.hygiene import harden_process
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.passphrase_rule import require_strong_passphrase
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.keys.sources import (
    decrypt_keystore_bytes,
    generate_key,
    load_keys,
    parse_account_range,
)
from dydx_airgap.offline.options import (
    account_option,
    json_option,
    key_source_from,
    key_source_options,
    network_option,
    overwrite_vault_option,
    vault_password_option,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import InputError, UsageError, VerificationError
from dydx_airgap.shared.fsutil import read_secret_file, write_secret_file

_file = click.Path(path_type=Path, dir_okay=False)


def _tty_write(text: str) -> None:
    """Show text on the terminal itself, never on stdout (which may be a log or a pipe)."""
    try:
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        raise UsageError("no terminal to show the mnemonic on: pass --mnemonic-out FILE") from None
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


@click.command()
@click.option("--out", "out", type=_file, required=True, help="Keystore file to create (0600).")
@click.option("--password-file", type=_file, help="File (0600) with the new keystore's password.")
@click.option(
    "--mnemonic-out", type=_file, help="Write the mnemonic to this file (0600) instead of the screen."
)
@json_option
def keygen(out: Path, password_file: Path | None, mnemonic_out: Path | None, as_json: bool) -> None:
    """Create a new Ethereum key from the OS random generator.

    Writes it as an encrypted keystore (scrypt) and shows its 24-word mnemonic once, on the terminal (or
    into --mnemonic-out). Write the words down: they are the only backup.
    """
    harden_process()
    if out.exists():
        raise InputError(f"{out} already exists: keygen never overwrites a key")
    if mnemonic_out is not None and mnemonic_out.exists():
        raise InputError(f"{mnemonic_out} already exists")
    password = get_secret(
        "new keystore password", password_file, confirm=True, option_hint="--password-file FILE"
    )
    require_strong_passphrase(password, "keystore password")
    phrase, raw, keystore = generate_key(password)
    if mnemonic_out is not None:
        write_secret_file(mnemonic_out, (phrase.reveal() + "\n").encode())
    else:
        _tty_write(
            "\nYour new mnemonic (24 words). Write it down on paper now; it is shown only once:\n\n  "
            + phrase.reveal()
            + "\n\n"
        )
    write_secret_file(out, keystore)
    # Read back what we wrote: the keystore must decrypt to the same key (ethstaker-deposit-cli habit).
    again = decrypt_keystore_bytes(read_secret_file(out), password, out)
    if again.reveal() != raw.reveal():
        raise VerificationError(f"{out} does not decrypt back to the new key; do not use it")
    address = ColdKey(again).address
    if as_json:
        click.echo(json.dumps({"address": address, "keystore": str(out)}))
    else:
        click.echo(f"created keystore {out} for address {address}")


@click.command()
@key_source_options
@network_option
@click.option(
    "--accounts", "accounts", default="0", show_default=True, help="Account indices: 0, 0-9, 0,3,5-7."
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@vault_password_option
@overwrite_vault_option
@json_option
def derive(
    network: Network,
    accounts: str,
    out_dir: Path,
    vault_password_file: Path | None,
    overwrite: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Derive each account's STARK key pair and default API credentials, exactly as dYdX did.

    Writes one public file per account (address, STARK public key x and y, fingerprint) and one encrypted
    vault (0600) with the secrets of all accounts. The derivation signatures are never written anywhere.
    """
    from dydx_airgap.offline.keys.derive import VAULT_NAME, derive_to_directory

    harden_process()
    source = key_source_from(kwargs)
    indices = parse_account_range(accounts)
    keys = list(load_keys(source, indices))
    vault_pass = get_secret(
        "vault passphrase", vault_password_file, confirm=True, option_hint="--vault-password-file FILE"
    )
    require_strong_passphrase(vault_pass, "vault passphrase")
    records = derive_to_directory(network, keys, out_dir, vault_pass, overwrite)
    if as_json:
        click.echo(json.dumps([json.loads(r.payload.to_bytes()) for r in records], indent=2))
        return
    click.echo(f"network {network.label}; vault {out_dir / VAULT_NAME} (0600, Argon2id + AES-256-GCM)")
    for r in records:
        body = r.payload.body
        click.echo(
            f"account {r.key.index}: {r.account.address}  stark {body['stark_public_key']}  "
            f"key fingerprint {r.payload.key_fingerprint}  payload fingerprint {r.payload.fingerprint}  "
            f"-> {r.path.name}"
        )
    click.echo(
        "the key fingerprint depends only on network, address and STARK key: compare it across machines; "
        "the payload fingerprint identifies this file (it covers its id and time)"
    )


@click.command()
@key_source_options
@network_option
@account_option
@click.option("--match", "match", required=True, help="The STARK public key (x) dYdX has on record, hex.")
@json_option
def recover(network: Network, account: int, match: str, as_json: bool, **kwargs: Any) -> None:
    """Try every derivation variant (web app x4, legacy personal-sign, dydx-v3-python) against a STARK key."""
    from dydx_airgap.offline.keys.recover import try_all_variants

    text = match.strip().lower()
    text = text[2:] if text.startswith("0x") else text
    if not text or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
        raise InputError("--match must be a STARK public key in hex (up to 64 digits, 0x optional)")
    harden_process()
    key = next(load_keys(key_source_from(kwargs), [account]))
    results = try_all_variants(key.key, network.chain_id, int(text, 16))
    matched = [r for r in results if r.matches]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "address": key.key.address,
                    "network_id": network.chain_id,
                    "variants": [
                        {
                            "variant": r.label,
                            "stark_public_key": f"0x{r.public_key:064x}",
                            "matches": r.matches,
                        }
                        for r in results
                    ],
                    "match": matched[0].label if matched else None,
                },
                indent=2,
            )
        )
    else:
        for r in results:
            click.echo(f"{'MATCH' if r.matches else '     '}  {r.label:<28} 0x{r.public_key:064x}")
    if not matched:
        raise InputError(
            f"no derivation variant of {key.key.address} on {network.label} gives that STARK key: "
            "check the network, the account index and the key"
        )
    if not as_json:
        click.echo(f"the account was created with the {matched[0].label} variant")
