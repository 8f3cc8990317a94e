"""README's command examples name commands and options that exist, each on the command it is given to.

The demo (`make demo`, tests/test_demo.py) runs the flow end to end; this catches the drift a walkthrough
stumbles on first: an example whose subcommand was renamed or whose flag belongs to another command.
"""

from __future__ import annotations

import re
import shlex

import click

from dydx_airgap.offline.cli import cli as offline_cli
from dydx_airgap.online.cli import cli as relay_cli
from dydx_airgap.shared.audit.cli import cli as audit_cli
from tests.conftest import REPO

TOOLS: dict[str, click.Group] = {
    "dydx-offline": offline_cli,
    "dydx-relay": relay_cli,
    "dydx-audit": audit_cli,
}


def readme_commands() -> list[tuple[int, list[str]]]:
    """(line number, argv) of every example line that runs one of the tools, continuations joined."""
    text = (REPO / "README.md").read_text()
    blocks = re.finditer(r"^```[a-z]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    found = []
    for block in blocks:
        start = text[: block.start(1)].count("\n") + 1
        lines = block.group(1).split("\n")
        index = 0
        while index < len(lines):
            number, line = start + index, lines[index]
            while line.rstrip().endswith("\\") and index + 1 < len(lines):
                index += 1
                line = line.rstrip()[:-1] + " " + lines[index].strip()
            index += 1
            for part in re.split(r";|&&", line.split(" #", 1)[0]):
                command = re.split(r"[|>]", part, maxsplit=1)[0].strip()
                if command.split(" ", 1)[0] in TOOLS:
                    try:
                        found.append((number, shlex.split(command)))
                    except ValueError:
                        continue
    return found


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-"))
    return names


def resolve(argv: list[str]) -> tuple[click.Command, list[str]]:
    """The command an argv runs, and the words after its name."""
    command: click.Command = TOOLS[argv[0]]
    ctx = click.Context(command)
    rest = argv[1:]
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"{argv[0]} has no command {rest[0]!r}"
        command, ctx, rest = sub, click.Context(sub, parent=ctx), rest[1:]
    return command, rest


def test_every_readme_example_runs_a_real_command_with_its_own_options() -> None:
    examples = readme_commands()
    assert len(examples) > 40  # the scan really found the examples
    problems = []
    for number, argv in examples:
        try:
            command, rest = resolve(argv)
        except AssertionError as exc:
            problems.append(f"README.md:{number}: {exc}")
            continue
        known = _options(command)
        for word in rest:
            flag = word.split("=", 1)[0]
            if flag.startswith("--") and flag not in known:
                problems.append(f"README.md:{number}: {' '.join(argv[:3])} has no option {flag}")
    assert problems == []


def test_the_scan_catches_an_option_given_to_the_wrong_command() -> None:
    command, rest = resolve(["dydx-offline", "derive", "--account", "3"])
    assert "--account" not in _options(command) and rest == ["--account", "3"]
