"""`derive-v4`: the dYdX v4 account of the cold key (see v4_derive.py for what is written where)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.hygiene import harden_process
from dydx_airgap.offline.keys.passphrase_rule import require_strong_passphrase
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.keys.sources import parse_account_range
from dydx_airgap.offline.options import (
    json_option,
    key_source_from,
    key_source_options,
    overwrite_vault_option,
    v4_mnemonic_from,
    v4_mnemonic_options,
    v4_network_option,
    vault_password_option,
)
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.progress import BatchProgress
from dydx_airgap.shared.progress import wanted as progress_wanted


@click.command("derive-v4")
@key_source_options
@v4_mnemonic_options
@v4_network_option
@click.option(
    "--accounts", "accounts", default="0", show_default=True, help="Account indices: 0, 0-9, 0,3,5-7."
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@vault_password_option
@overwrite_vault_option
@json_option
def derive_v4(
    v4_network: V4Network,
    accounts: str,
    out_dir: Path,
    vault_password_file: Path | None,
    overwrite: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Derive the dYdX v4 (dYdX Chain) account of each key, exactly as the dYdX web app does.

    From an Ethereum key: sign the environment's "dYdX Chain Onboarding" typed data, keccak-256(r‖s) as
    BIP-39 entropy, 24 words, m/44'/118'/0'/0/0, dydx1… address. From a v4 mnemonic: the account itself.
    Writes one origin-signed v4-public-key file per account and the secrets (onboarding signature,
    mnemonic) into the encrypted vault's v4 section, and nowhere else.
    """
    from dydx_airgap.offline.keys.derive import VAULT_NAME
    from dydx_airgap.offline.keys.v4_derive import derive_v4_to_directory, v4_sources
    from dydx_airgap.offline.keys.vault import require_room_for

    harden_process()
    v4_mnemonic = v4_mnemonic_from(kwargs)
    indices = parse_account_range(accounts)
    require_room_for(len(indices))  # before any key is loaded or prompt shown
    sources = v4_sources(key_source_from(kwargs), v4_mnemonic, indices)
    vault_pass = get_secret(
        "vault passphrase",
        vault_password_file,
        confirm=True,
        option_hint="--vault-password-file FILE",
        check=lambda secret: require_strong_passphrase(secret, "vault passphrase"),
    )
    with BatchProgress(progress_wanted(as_json)) as progress:
        records = derive_v4_to_directory(v4_network, sources, out_dir, vault_pass, overwrite, progress)
    if as_json:
        click.echo(json.dumps([json.loads(r.data) for r in records], indent=2))
        return
    click.echo(
        f"dYdX v4 {v4_network.name} ({v4_network.chain_id}); vault {out_dir / VAULT_NAME} "
        "(0600, Argon2id + AES-256-GCM, v4 section)"
    )
    for r in records:
        click.echo(
            f"account {r.source.index}: {r.account.address}  noble {r.account.noble_address}  "
            f"({r.key_source})  fingerprint {r.payload.fingerprint}  -> {r.path.name}"
        )
