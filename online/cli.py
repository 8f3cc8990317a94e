"""`dydx-relay`: the online half. Reads exported payloads, verifies every signature, talks to the API and
the chain, journals what it did. It never imports the cold signer and never sees a private key."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from dydx_airgap.shared import __version__
from dydx_airgap.shared.cli_support import LazyGroup, run_cli

COMMANDS: dict[str, tuple[str, str]] = {
    "submit": (
        "dydx_airgap.online.relay.commands:submit",
        "Verify a signed payload and submit it to the API (journaled, never twice).",
    ),
    "time": (
        "dydx_airgap.online.relay.commands:time_command",
        "Write a time payload (the API's clock) for the cold machine.",
    ),
    "api-keys": (
        "dydx_airgap.online.relay.commands:api_keys",
        "List a user's API keys with the stored credentials (secrets redacted).",
    ),
    "pin-address": (
        "dydx_airgap.online.relay.commands:pin_address",
        "Pin a firm Ethereum address: payloads of other keys are then refused.",
    ),
    "serve-local": (
        "dydx_airgap.online.rehearsal.commands:serve_local",
        "Run the local dYdX-v3-compatible API (rehearsals and tests).",
    ),
    "serve-chain": (
        "dydx_airgap.online.rehearsal.commands:serve_chain",
        "Run the local rehearsal chain (py-evm, chain id 31337).",
    ),
    "freeze-chain": (
        "dydx_airgap.online.rehearsal.commands:freeze_chain",
        "Freeze the local rehearsal chain's exchange (escape mode): state update, forced withdrawal, freeze.",
    ),
    "serve-v4": (
        "dydx_airgap.online.rehearsal.commands:serve_v4",
        "Run a local dYdX-Chain-compatible node (v4 rehearsals and tests).",
    ),
    "import": (
        "dydx_airgap.online.transfer:import_",
        "Read a cold-machine payload from QR images, a video, a camera or a file.",
    ),
    "export": (
        "dydx_airgap.online.transfer:export",
        "Show a relay payload (time, tx-request) as QR frames for the cold machine.",
    ),
    "prepare": (
        "dydx_airgap.online.onchain.commands:prepare",
        "Prepare an unsigned register/approve/deposit transaction for the cold machine.",
    ),
    "broadcast": (
        "dydx_airgap.online.onchain.commands:broadcast",
        "Check a signed transaction against its request, broadcast it once, wait for it.",
    ),
    "escape": (
        "dydx_airgap.online.escape.commands:escape",
        "dYdX v3 escape hatch: prepare verifyEscape/escape/withdraw for the cold key; broadcast in order.",
    ),
    "v4": (
        "dydx_airgap.online.v4.commands:v4",
        "dYdX v4 (dYdX Chain): prepare a transaction for the cold key, broadcast what it signed.",
    ),
    "init-evidence-key": (
        "dydx_airgap.online.evidence.commands:init_evidence_key",
        "Create the relay's Ed25519 evidence key (once) and print its public key for auditors.",
    ),
    "evidence-key": (
        "dydx_airgap.online.evidence.commands:evidence_key",
        "Print the relay's evidence public key (to register with the auditor).",
    ),
    "evidence": (
        "dydx_airgap.online.evidence.commands:evidence",
        "Add signed relay receipts to an evidence bundle; pack it as one .tar.",
    ),
    "account": (
        "dydx_airgap.online.relay.commands:account_command",
        "Show the user's L1 registration and account (position, balance) as the API reports them.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="dydx-relay")
def cli() -> None:
    """Online relay for dYdX v3 onboarding: verifies signed payloads from the cold machine and submits
    them. Holds no Ethereum or STARK private key."""


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(cli, argv, prog_name="dydx-relay")


if __name__ == "__main__":
    sys.exit(main())
