"""Click options shared by every cold-side command that needs the Ethereum key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.networks import Network, get_network

from .keysources import KeySourceOptions

F = TypeVar("F", bound=Callable[..., Any])

_file = click.Path(path_type=Path, dir_okay=False)


def key_source_options(func: F) -> F:
    options = [
        click.option("--keystore", type=_file, help="Encrypted Ethereum keystore (V3 JSON)."),
        click.option("--password-file", type=_file, help="File (0600) holding the keystore password."),
        click.option("--mnemonic-file", type=_file, help="File (0600) holding a BIP-39 mnemonic."),
        click.option("--mnemonic-prompt", is_flag=True, help="Type the mnemonic at a no-echo prompt."),
        click.option(
            "--mnemonic-passphrase-file", type=_file, help="File (0600) with the BIP-39 passphrase."
        ),
        click.option(
            "--path", "derivation_path", help="Full derivation path (default m/44'/60'/0'/0/<account>)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def key_source_from(kwargs: dict[str, Any]) -> KeySourceOptions:
    return KeySourceOptions(
        keystore=kwargs.pop("keystore"),
        password_file=kwargs.pop("password_file"),
        mnemonic_file=kwargs.pop("mnemonic_file"),
        mnemonic_prompt=kwargs.pop("mnemonic_prompt"),
        mnemonic_passphrase_file=kwargs.pop("mnemonic_passphrase_file"),
        derivation_path=kwargs.pop("derivation_path"),
    )


def _network(ctx: click.Context, param: click.Parameter, value: str | None) -> Network | None:
    if value is None:
        return None
    try:
        return get_network(value)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None


def network_option(func: F) -> F:
    return click.option(
        "--network",
        required=True,
        callback=_network,
        help="Chain id or name: 1 mainnet, 3 ropsten, 5 goerli, 11155111 sepolia, 31337 local (rehearsal).",
    )(func)
