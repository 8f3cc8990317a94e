"""The review screen and the operator's confirmation.

Everything shown is built here, on the cold machine, from the request itself — never from text the relay
supplied — and every string passes through the display escaper (control and bidi characters made visible).
The operator confirms by typing the first group of the payload's fingerprint, which proves the screen was
read; `--yes` skips the question for scripted use and is recorded as such in the evidence log.
"""

from __future__ import annotations

import os

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


def _read_line(fd: int, limit: int = 256) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace").strip()


def confirm(fingerprint: str, yes: bool, what: str = "fingerprint", action: str = "sign") -> str:
    """Return how the operator confirmed; raise if they did not.

    ``what`` names the fingerprint typed (the handoff asks for the recipient's, the one the trading host
    compares), ``action`` what the answer lets happen.
    """
    if yes:
        return CONFIRMED_SCRIPTED
    try:
        # The terminal itself, not stdin/stdout: those may be redirected, the person is on the terminal.
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise UsageError(
            "no terminal to confirm on: review the request and pass --yes for scripted use"
        ) from None
    try:
        expected = fingerprint.split("-")[0]
        os.write(
            fd,
            f"Type the first 4 characters of the {what} ({fingerprint}) to {action}, "
            "anything else to stop: ".encode(),
        )
        answer = _read_line(fd).lower()
    finally:
        os.close(fd)
    if answer != expected:
        raise InputError("not confirmed; nothing was signed or written")
    return CONFIRMED_TYPED if what == "fingerprint" else f"operator typed the {what}"
