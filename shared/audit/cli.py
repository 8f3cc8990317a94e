"""`dydx-audit`: verify an evidence bundle with public data only and render a report for people."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from dydx_airgap.shared import __version__
from dydx_airgap.shared.cli_support import LazyGroup, run_cli

COMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "dydx_airgap.shared.audit.commands:verify",
        "Check an evidence bundle: hashes, signatures, cold-to-relay chain, log, no secrets.",
    ),
    "report": (
        "dydx_airgap.shared.audit.commands:report",
        "Write a self-contained HTML report of a bundle for people.",
    ),
    "escape-proof": (
        "dydx_airgap.shared.audit.escape_proof:escape_proof",
        "Check a dYdX v3 escape proof (explorer page or JSON) and print the position and amount.",
    ),
    "compare": (
        "dydx_airgap.shared.audit.commands:compare",
        "Compare two cold machines' outputs for the same inputs, field by field.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="dydx-audit")
def cli() -> None:
    """Auditor's tool: checks dydx-airgap evidence bundles without any secret."""


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(cli, argv, prog_name="dydx-audit")


if __name__ == "__main__":
    sys.exit(main())
