"""`doctor`: is this machine fit to be the cold machine?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.shared.errors import PolicyError

from .cmd_sign import DEFAULT_EVIDENCE_LOG


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option("--skip-dns", is_flag=True, help="Do not attempt a DNS lookup.")
@click.option(
    "--allow-online",
    is_flag=True,
    help="Exit 0 even if the machine looks online (recorded in the evidence log).",
)
@click.option(
    "--evidence-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_EVIDENCE_LOG,
    show_default=True,
)
def doctor(as_json: bool, skip_dns: bool, allow_online: bool, evidence_log: Path) -> None:
    """Check the air gap: interfaces, routes, DNS, clock, swap, versions, hygiene, self-test."""
    from .doctor import FAIL, run_doctor
    from .evidence_log import append_entry

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
