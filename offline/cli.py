"""`dydx-offline`: the cold-machine signer.

Sub-commands are imported only when run, so `--help` stays fast; eth_account is imported only by commands
that load a key. Nothing here or below imports network code (an import-linter contract checks it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

import click

from dydx_airgap.shared import __version__
from dydx_airgap.shared.cli_support import LazyGroup, run_cli
from dydx_airgap.shared.errors import UsageError

COMMANDS = {
    "keygen": (
        "dydx_airgap.offline.keys.commands:keygen",
        "Create a new Ethereum key (keystore + mnemonic shown once).",
    ),
    "derive": (
        "dydx_airgap.offline.keys.commands:derive",
        "Derive STARK keys and API credentials; vault + public files.",
    ),
    "derive-v4": (
        "dydx_airgap.offline.keys.v4_commands:derive_v4",
        "Derive the dYdX v4 (dYdX Chain) account; vault v4 section + v4-public-key payload.",
    ),
    "recover": (
        "dydx_airgap.offline.keys.commands:recover",
        "Find which derivation variant matches a STARK public key.",
    ),
    "handoff": (
        "dydx_airgap.offline.handoff.commands:handoff",
        "Seal accounts' STARK keys and API credentials to the trading host's age recipient (opt-in).",
    ),
    "selftest": (
        "dydx_airgap.offline.diagnostics.commands:selftest",
        "Check the reference vectors through our code paths.",
    ),
    "sign": (
        "dydx_airgap.offline.signing.commands:sign",
        "Sign onboarding, API-key, recovery requests and transactions after review.",
    ),
    "doctor": (
        "dydx_airgap.offline.diagnostics.commands:doctor",
        "Check that this machine is fit to be the cold machine.",
    ),
    "evidence": (
        "dydx_airgap.offline.evidence.commands:evidence",
        "Bundle signed payloads and the evidence log for an auditor, signed by the cold key.",
    ),
    "export": (
        "dydx_airgap.offline.transfer:export",
        "Show a payload as QR frames (PNG files, HTML page, terminal).",
    ),
    "import": (
        "dydx_airgap.offline.transfer:import_",
        "Read a relay payload (time, tx-request) from QR images or a file.",
    ),
}

# Options that would put a secret on the command line, and where the secret belongs instead.
_SECRET_OPTIONS = {
    "--password": "--password-file FILE or the prompt",
    "--private-key": "a keystore (--keystore FILE) or a mnemonic file",
    "--mnemonic": "--mnemonic-file FILE or --mnemonic-prompt",
    "--v4-mnemonic": "--v4-mnemonic-file FILE or --v4-mnemonic-prompt",
    "--seed": "--mnemonic-file FILE or --mnemonic-prompt",
    "--passphrase": "--mnemonic-passphrase-file FILE",
    "--vault-password": "--vault-password-file FILE or the prompt",
    "--vault-passphrase": "--vault-password-file FILE or the prompt",
}
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_WORD = re.compile(r"[a-z]{3,8}")


def refuse_secrets_in_argv(args: list[str]) -> None:
    """Secrets on the command line end up in shell history and /proc/*/cmdline: refuse them outright."""
    for i, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        if name in _SECRET_OPTIONS:
            raise UsageError(
                f"never pass a secret as {name} on the command line (shell history, process list): "
                f"use {_SECRET_OPTIONS[name]}"
            )
        previous = args[i - 1] if i else ""
        if _HEX_KEY.fullmatch(arg) and previous != "--match":
            raise UsageError(
                "an argument looks like a private key: never put keys on the command line; "
                "use --keystore FILE"
            )
    words = [w for a in args for w in a.split() if _WORD.fullmatch(w)]
    if len(words) >= 12:
        from eth_account.hdaccount.mnemonic import Mnemonic

        wordlist = set(Mnemonic().wordlist)
        if sum(w in wordlist for w in words) >= 12:
            raise UsageError(
                "the command line looks like it contains a mnemonic: "
                "use --mnemonic-file FILE or --mnemonic-prompt"
            )


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="dydx-offline")
def cli() -> None:
    """Cold-machine signer for dYdX v3 onboarding. Holds the Ethereum key; exports only public material
    and signed payloads. Run it on a machine with no network."""


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(cli, argv, prog_name="dydx-offline", preflight=refuse_secrets_in_argv)


if __name__ == "__main__":
    sys.exit(main())
