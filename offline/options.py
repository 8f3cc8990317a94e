"""Every flag more than one cold command takes, declared once with one help text.

A command takes such a flag by decorating itself with the option here, so the same flag cannot drift in
meaning or help between commands. Flags only one command has stay with that command, and so does ``--out``:
what it names (a keystore, a directory, a signed payload) is each command's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from dydx_airgap.shared.dydx_v3.networks import Network, get_network
from dydx_airgap.shared.dydx_v3.variants import (
    DEFAULT_VARIANT,
    VARIANT_NAMES,
    StarkKeyVariant,
    parse_variant,
)
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

_file = click.Path(path_type=Path, dir_okay=False)

#: Where the hash-chained evidence log lives unless ``--evidence-log`` says otherwise.
DEFAULT_EVIDENCE_LOG = Path("dydx-evidence.jsonl")


@dataclass(frozen=True)
class KeySourceOptions:
    keystore: Path | None = None
    password_file: Path | None = None
    mnemonic_file: Path | None = None
    mnemonic_prompt: bool = False
    mnemonic_passphrase_file: Path | None = None
    derivation_path: str | None = None


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


def _variant(ctx: click.Context, param: click.Parameter, value: str) -> StarkKeyVariant:
    try:
        return parse_variant(value)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None


variant_option = click.option(
    "--variant",
    "variant",
    default=DEFAULT_VARIANT.value,
    show_default=True,
    callback=_variant,
    metavar="NAME",
    help="Which STARK key the account registered: " + ", ".join(VARIANT_NAMES) + " (`recover` finds it).",
)

account_option = click.option(
    "--account",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**31 - 1),
    help="Account index (mnemonic: m/44'/60'/0'/0/<account>).",
)
#: The cold machine's one evidence-log location: set it once in the machine's profile. A second log would
#: let a signature stay out of the bundle built from the first.
EVIDENCE_LOG_SETTING = "DYDX_AIRGAP_EVIDENCE_LOG"


def _evidence_log(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    import os

    setting = os.environ.get(EVIDENCE_LOG_SETTING)
    source = ctx.get_parameter_source(param.name or "evidence_log")
    explicit = source is click.core.ParameterSource.COMMANDLINE
    if setting and explicit and Path(setting).absolute() != value.absolute():
        raise click.BadParameter(
            f"this machine's evidence log is {setting} ({EVIDENCE_LOG_SETTING}); one log per machine: "
            "drop --evidence-log or change the setting"
        )
    return value


evidence_log_option = click.option(
    "--evidence-log",
    type=_file,
    default=DEFAULT_EVIDENCE_LOG,
    show_default=True,
    envvar=EVIDENCE_LOG_SETTING,
    show_envvar=True,
    callback=_evidence_log,
    help="Append-only, hash-chained record of every signature and export; set it once for the machine with "
    f"{EVIDENCE_LOG_SETTING} (a differing --evidence-log is then refused).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON (any review goes to stderr)."
)
max_fee_gwei_option = click.option(
    "--max-fee-gwei",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0, 100_000),
    help="Refuse a max fee per gas above this.",
)
yes_option = click.option("--yes", is_flag=True, help="Do not ask; recorded as scripted in the evidence log.")
clock_from_option = click.option(
    "--clock-from",
    type=_file,
    help="A `time` payload from the relay, to correct this clock (by at most 300 s).",
)
accept_clock_offset_option = click.option(
    "--accept-clock-offset",
    is_flag=True,
    help="Let --clock-from move this clock by more than 300 s (up to 7 days), after comparing both clocks.",
)


# --- dYdX v4 ------------------------------------------------------------------------------------------------


def _v4_network(ctx: click.Context, param: click.Parameter, value: str | None) -> V4Network | None:
    from dydx_airgap.shared.dydx_v4.networks import network_by_chain_id, network_by_name

    if value is None:
        return None
    try:
        return network_by_chain_id(value) if value.startswith("dydx-") else network_by_name(value)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None


def v4_network_option(func: F) -> F:
    return click.option(
        "--v4-network",
        "v4_network",
        required=True,
        callback=_v4_network,
        help="dYdX v4 environment: mainnet (dydx-mainnet-1, onboarding chainId 1) or testnet "
        "(dydx-testnet-4, onboarding chainId 11155111).",
    )(func)


@dataclass(frozen=True)
class V4MnemonicOptions:
    """A v4 account that did not come from an Ethereum key (a Cosmos wallet, or the web app's
    "export secret phrase"): its own BIP-39 mnemonic is the key source."""

    file: Path | None = None
    prompt: bool = False

    @property
    def given(self) -> bool:
        return self.file is not None or self.prompt


def v4_mnemonic_options(func: F) -> F:
    options = [
        click.option(
            "--v4-mnemonic-file",
            type=_file,
            help="File (0600) holding an existing dYdX v4 mnemonic (instead of an Ethereum key source).",
        ),
        click.option(
            "--v4-mnemonic-prompt",
            is_flag=True,
            help="Type an existing dYdX v4 mnemonic at a no-echo prompt.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def v4_mnemonic_from(kwargs: dict[str, Any]) -> V4MnemonicOptions:
    return V4MnemonicOptions(file=kwargs.pop("v4_mnemonic_file"), prompt=kwargs.pop("v4_mnemonic_prompt"))


vault_password_option = click.option(
    "--vault-password-file", type=_file, help="File (0600) with the vault passphrase."
)
overwrite_vault_option = click.option("--overwrite", is_flag=True, help="Replace an existing vault in --out.")
