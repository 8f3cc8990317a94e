"""The review screen and the operator's confirmation.

Everything shown is built here, on the cold machine, from the request itself — never from text the relay
supplied — and every string passes through the display escaper (control and bidi characters made visible).
The operator confirms by typing the first group of the payload's fingerprint, which proves the screen was
read; `--yes` skips the question for scripted use and is recorded as such in the evidence log.
"""

from __future__ import annotations

import os
import sys

import click

from dydx_airgap.shared.display import escape_for_display
from dydx_airgap.shared.errors import InputError, UsageError

CONFIRMED_TYPED = "operator typed the fingerprint"
CONFIRMED_SCRIPTED = "scripted (--yes)"


def render(title: str, rows: list[tuple[str, str]], notes: list[str] = ()) -> str:  # type: ignore[assignment]
    width = max(len(label) for label, _ in rows)
    lines = [f"=== REVIEW: {escape_for_display(title)} ==="]
    for label, value in rows:
        lines.append(f"  {label:<{width}}  {escape_for_display(value)}")
    for note in notes:
        lines.append(f"  ! {escape_for_display(note)}")
    lines.append("=" * min(100, max(len(line) for line in lines)))
    return "\n".join(lines)


def show(text: str, to_stderr: bool) -> None:
    click.echo(text, err=to_stderr)


def confirm(fingerprint: str, yes: bool) -> str:
    """Return how the operator confirmed; raise if they did not."""
    if yes:
        return CONFIRMED_SCRIPTED
    try:
        tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        raise UsageError(
            "no terminal to confirm on: review the request and pass --yes for scripted use"
        ) from None
    with tty:
        if not (sys.stdin.isatty() or os.isatty(tty.fileno())):
            raise UsageError("no terminal to confirm on: pass --yes for scripted use")
        expected = fingerprint.split("-")[0]
        tty.write(
            f"Type the first 4 characters of the fingerprint ({fingerprint}) to sign, anything else to stop: "
        )
        tty.flush()
        answer = tty.readline().strip().lower()
    if answer != expected:
        raise InputError("not confirmed; nothing was signed or written")
    return CONFIRMED_TYPED
