"""`selftest`: the reference vectors through the code paths derive and sign use."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.shared.errors import VerificationError


@click.command()
@click.option(
    "--vectors", type=click.Path(path_type=Path, dir_okay=False), help="Vectors file (default: built-in)."
)
@click.option("--json", "as_json", is_flag=True, help='Print {"passed": [...], "failed": [...]}.')
def selftest(vectors: Path | None, as_json: bool) -> None:
    """Check every field of every reference vector; exit 0 only if all pass."""
    from .hygiene import harden_process
    from .selftest import run_selftest

    harden_process()
    results = run_selftest(vectors)
    passed = [r.name for r in results if r.passed]
    failed = [{"name": r.name, "fields": r.failed_fields} for r in results if not r.passed]
    if as_json:
        click.echo(json.dumps({"passed": passed, "failed": failed}))
    else:
        for r in results:
            status = "pass" if r.passed else "FAIL"
            detail = f"{len(r.passed_fields)} fields" if r.passed else "failed: " + ", ".join(r.failed_fields)
            click.echo(f"{status}  {r.name:<24} {detail}")
        click.echo(f"{len(passed)} passed, {len(failed)} failed")
    if failed:
        if as_json:
            raise click.exceptions.Exit(1)
        raise VerificationError(f"{len(failed)} of {len(results)} vectors failed")
