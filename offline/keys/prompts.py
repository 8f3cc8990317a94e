"""Getting secrets from a person: a TTY prompt or a 0600 file, never argv or the environment."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dydx_airgap.shared.errors import InputError, UsageError
from dydx_airgap.shared.fsutil import read_secret_file
from dydx_airgap.shared.secret import Secret

MAX_SECRET_FILE = 64 * 1024


def _tty_available() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def read_secret_text_file(path: str | Path, what: str) -> Secret[str]:
    """A secret from a file: one trailing newline stripped, the file refused if others can read it."""
    raw = read_secret_file(path, cap=MAX_SECRET_FILE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file {path} is not UTF-8 text") from exc
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return Secret(text)


def prompt_secret(
    what: str,
    *,
    confirm: bool = False,
    option_hint: str,
    check: Callable[[Secret[str]], None] | None = None,
) -> Secret[str]:
    """Ask on the terminal without echo. Without a terminal, say which file option to use instead.

    ``check`` (a strength rule) runs on the first entry, before it is asked again: nobody types a weak
    passphrase twice only to be told it was weak."""
    if not _tty_available() or not sys.stdin.isatty():
        raise UsageError(f"no terminal to ask for the {what}: pass it with {option_hint} (a 0600 file)")
    try:
        first = getpass.getpass(f"{what[0].upper()}{what[1:]}: ")
        if check is not None and first:
            check(Secret(first))
        if confirm:
            second = getpass.getpass(f"Repeat the {what}: ")
            if first != second:
                raise InputError(f"the two {what} entries differ; nothing was written")
    except (EOFError, KeyboardInterrupt) as exc:
        raise InputError(f"no {what} entered; nothing was done") from exc
    if not first:
        raise InputError(f"the {what} is empty")
    return Secret(first)


def get_secret(
    what: str,
    file: str | Path | None,
    *,
    confirm: bool = False,
    option_hint: str,
    check: Callable[[Secret[str]], None] | None = None,
) -> Secret[str]:
    if file is not None:
        secret = read_secret_text_file(file, what)
    else:
        secret = prompt_secret(what, confirm=confirm, option_hint=option_hint, check=check)
    if check is not None:
        check(secret)
    return secret
