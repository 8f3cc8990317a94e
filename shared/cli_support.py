"""What every command-line tool of the project shares: lazy sub-commands and one way to fail.

Bad input must give one clear line and a non-zero exit, never a traceback. Unexpected exceptions are
reported by type name only, because their text could contain data we must not print.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from dydx_airgap.shared.display import escape_for_display
from dydx_airgap.shared.errors import AirgapError

EXIT_INTERNAL = 70


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when invoked (fast ``--help`` and start-up)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # name -> (module path, short help shown in the group's --help without importing the module)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_path, _ = self.lazy_commands[cmd_name]
            module_name, attr = module_path.split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_path} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands:
                rows.append((name, self.lazy_commands[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=80)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def say(text: str, err: bool = False) -> None:
    """Print human-readable output whose values may have come from outside (an API, a node, a file):
    each line passes the display escaper, so control and bidi characters cannot rewrite the screen."""
    click.echo("\n".join(escape_for_display(line, max_len=4000) for line in text.split("\n")), err=err)


def fail(message: str, code: int = 1) -> int:
    # Error messages quote outside values too (a field, a server's message): escaped like any output.
    click.echo(f"error: {escape_for_display(message, max_len=4000)}", err=True)  # one line, always
    return code


def run_cli(
    group: click.Command,
    argv: Sequence[str] | None = None,
    prog_name: str | None = None,
    preflight: Callable[[list[str]], None] | None = None,
) -> int:
    """Run a click command with the project's error contract; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if preflight is not None:
            preflight(args)
        result = group.main(args=args, prog_name=prog_name, standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except AirgapError as exc:
        return fail(exc.message, exc.exit_code)
    except click.exceptions.Abort:
        return fail("aborted; nothing was done", 1)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted; nothing was written", 130)
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        return fail(
            f"internal error ({type(exc).__name__}); the command stopped (files are written atomically, "
            "none is half-written). Please report it.",
            EXIT_INTERNAL,
        )
