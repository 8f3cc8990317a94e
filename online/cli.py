"""`dydx-relay`: the online half. Reads exported payloads, verifies every signature, talks to the API and
the chain, journals what it did. It never imports the cold signer and never sees a private key."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from dydx_airgap.shared import __version__
from dydx_airgap.shared.cli_support import LazyGroup, run_cli

COMMANDS: dict[str, tuple[str, str]] = {}


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
