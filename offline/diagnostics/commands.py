"""`doctor` and `selftest`: is this machine fit to be the cold machine, and do our code paths still give
the reference vectors?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.offline.options import evidence_log_option, json_option
from dydx_airgap.shared.errors import PolicyError, VerificationError


@click.command()
@json_option
@click.option("--skip-dns", is_flag=True, help="Do not attempt a DNS lookup.")
@click.option(
    "--allow-online",
    is_flag=True,
    help="Exit 0 even if the machine looks online (recorded in the evidence log).",
)
@evidence_log_option
def doctor(as_json: bool, skip_dns: bool, allow_online: bool, evidence_log: Path) -> None:
    """Check the air gap: interfaces, routes, DNS, clock, swap, versions, hygiene, self-test."""
    from dydx_airgap.offline.diagnostics.doctor import FAIL, run_doctor
    from dydx_airgap.offline.evidence.log import append_entry

    checks = run_doctor(skip_dns=skip_dns)
    online = [c for c in checks if c.online_evidence]
    failed = [c for c in checks if c.verdict == FAIL and not c.online_evidence]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "checks": [{"name": c.name, "verdict": c.verdict, "detail": c.detail} for c in checks],
                    "online": bool(online),
                },
                indent=2,
            )
        )
    else:
        for c in checks:
            click.echo(f"{c.verdict:<4}  {c.name:<20} {c.detail}")
    if online and allow_online:
        append_entry(
            evidence_log,
            "doctor-override",
            {
                "checks": [{"name": c.name, "verdict": c.verdict} for c in checks],
                "note": "operator ran with --allow-online on a machine that looks online",
            },
        )
        click.echo("warning: machine looks ONLINE; continuing because of --allow-online (recorded)", err=True)
    elif online:
        raise PolicyError(
            "this machine looks ONLINE: take it off every network before using it as the cold machine"
        )
    if failed:
        raise PolicyError(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}")
    if not as_json:
        click.echo("verdict: fit to be the cold machine" if not online else "verdict: ONLINE (overridden)")


@click.command()
@click.option(
    "--vectors", type=click.Path(path_type=Path, dir_okay=False), help="Vectors file (default: built-in)."
)
@json_option
def selftest(vectors: Path | None, as_json: bool) -> None:
    """Check every field of every reference vector; exit 0 only if all pass."""
    from dydx_airgap.offline.diagnostics.selftest import run_selftest
    from dydx_airgap.offline.hygiene import harden_process

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
