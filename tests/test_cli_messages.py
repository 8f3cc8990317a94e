"""Every flag a message names exists: an error that tells the operator to pass `--something` must name an
option one of the three tools really has (the relay's hints name cold-side flags, and the other way round,
so the union of the three is the reference)."""

from __future__ import annotations

import ast
import re

import click

from dydx_airgap.offline.cli import _SECRET_OPTIONS
from dydx_airgap.offline.cli import cli as offline_cli
from dydx_airgap.online.cli import cli as relay_cli
from dydx_airgap.shared.audit.cli import cli as audit_cli
from tests.conftest import REPO

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def declared_flags(group: click.Group) -> set[str]:
    found: set[str] = {"--help", "--version"}

    def walk(command: click.Command, ctx: click.Context) -> None:
        for param in command.params:
            found.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, click.Context(sub, parent=ctx))

    walk(group, click.Context(group))
    return found


def named_flags() -> list[tuple[str, int, str]]:
    """(file, line, flag) for every --flag inside a string literal of the package's code."""
    names = []
    for top in ("offline", "online", "shared"):
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for flag in _FLAG.findall(node.value):
                        names.append((str(path.relative_to(REPO)), node.lineno, flag))
    return names


def test_every_flag_a_message_names_is_an_option_of_one_of_the_tools() -> None:
    real = declared_flags(offline_cli) | declared_flags(relay_cli) | declared_flags(audit_cli)
    refused_on_purpose = set(_SECRET_OPTIONS)  # secrets that must never be options: named to refuse them
    names = named_flags()
    assert len(names) > 100  # the scan really read the messages
    unknown = [(f, line, flag) for f, line, flag in names if flag not in real | refused_on_purpose]
    assert unknown == []


def test_the_scan_would_catch_a_flag_that_does_not_exist() -> None:
    assert _FLAG.findall("allow it with --allow-unlimited; or --no-such-flag") == [
        "--allow-unlimited",
        "--no-such-flag",
    ]
    assert "--allow-unlimited" not in declared_flags(offline_cli)
