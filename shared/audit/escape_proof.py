"""`dydx-audit escape-proof FILE`: check the explorer's escape data before anything is signed.

Key-free and offline: the same verifier the cold machine runs (``shared/dydx_v3/escape``), on the saved
explorer page, its ``data-props`` JSON or a vector file. Exit 0 when the contract would accept the proof,
1 with the contract's own reason when it would not.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.shared.cli_support import say


@click.command("escape-proof")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for pipelines).")
def escape_proof(file: Path, as_json: bool) -> int:
    """Check a dYdX v3 escape proof with the PerpetualEscapeVerifier's own checks, in its order: the saved
    explorer page (/escape/<positionId>), its data-props JSON, or the same fields as a JSON file. Prints
    the position, STARK key, each asset, the withdrawal amount, root, shared-state hash and fact. It does
    not check that the shared state is the frozen contract's (the relay's `escape prepare` does that
    against the last updateState call)."""
    from dydx_airgap.shared.dydx_v3.escape.sources import MAX_SOURCE_BYTES, escape_data_from_text
    from dydx_airgap.shared.dydx_v3.escape.summary import escape_json, escape_rows, verify_escape_data
    from dydx_airgap.shared.dydx_v3.escape.verifier import EscapeProofError
    from dydx_airgap.shared.errors import FormatError
    from dydx_airgap.shared.fsutil import read_untrusted_file

    raw = read_untrusted_file(file, MAX_SOURCE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(
            f"{file} is not UTF-8 text (save the explorer page or its data-props JSON)"
        ) from None
    data = escape_data_from_text(text, str(file))
    try:
        result = verify_escape_data(data)
    except EscapeProofError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "reason": exc.reason}, indent=2))
            return 1
        raise
    if as_json:
        click.echo(json.dumps(escape_json(result, data.shared_state), indent=2))
        return 0
    for label, value in escape_rows(result, data.shared_state):
        say(f"{label:<20} {value}")
    say("verdict: the proof is valid; verifyEscape would register this fact")
    return 0
