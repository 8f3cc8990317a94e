"""Progress of a long batch (derive, recover, derive-v4, evidence bundle and its checks) on a terminal.

A batch of thousands of accounts or artefacts runs for seconds; without a sign of life an operator cannot
tell a slow run from a hung one. The display is rich's progress bar, shown only

* on a terminal: never with ``--json`` or when stdout is a pipe or a file, so scripts and logs see exactly
  the output they saw before;
* once the run has lasted :data:`SHOW_AFTER_SECONDS`: a short run never flashes a bar;

and it is transient (erased when the batch ends, before the command prints its result). It draws only when
the batch reports progress, never from a thread of its own: batch.py forks its workers only while the
process runs a single thread, and rich's auto-refresh thread would send every batch down the serial path.
It shows counts and stage names only — never a key, an address or a path.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

#: A batch that has run this long shows its progress (the brief: runs longer than about two seconds).
SHOW_AFTER_SECONDS = 1.0
#: Redraws at most this often: drawing costs far more than counting.
_REDRAW_SECONDS = 0.1

Advance = Callable[[int], None]
"""Reports that ``n`` more items of the current stage are done."""


def wanted(as_json: bool, stream: IO[str] | None = None) -> bool:
    """Whether a command should show progress: on a terminal, and not when it prints JSON."""
    out = sys.stdout if stream is None else stream
    try:
        return not as_json and out.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is no terminal
        return False


class BatchProgress:
    """Stages of a batch (``stage("deriving", 1000)``, then ``advance(n)`` as items finish).

    Disabled, it costs one attribute test per call. ``file`` is where the bar is drawn (default: stdout,
    the terminal :func:`wanted` checked); ``clock`` and ``show_after`` exist for tests.
    """

    def __init__(
        self,
        enabled: bool,
        *,
        file: IO[str] | None = None,
        show_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self._file = file
        self._show_after = SHOW_AFTER_SECONDS if show_after is None else show_after
        self._clock = clock
        self._started = clock()
        self._last_draw = 0.0
        self._display: Any = None  # rich.progress.Progress, imported only when shown
        self._task: Any = None
        self._label = ""
        self._total: int | None = None
        self._done = 0

    def __enter__(self) -> BatchProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def stage(self, label: str, total: int | None = None) -> Advance:
        """Start the next stage (``total`` items, or None for a step that is not counted); returns its
        ``advance``. The bar shows one stage at a time, with the time since the batch began."""
        if self.enabled:
            if self._display is not None and self._task is not None:
                self._display.update(self._task, visible=False)
                self._task = self._add_task(label, total)
            self._label, self._total, self._done = label, total, 0
            self._draw(force=True)
        return self.advance

    def advance(self, count: int = 1) -> None:
        if not self.enabled:
            return
        self._done += count
        self._draw(force=self._total is not None and self._done >= self._total)

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None
        self.enabled = False

    def _draw(self, force: bool) -> None:
        now = self._clock()
        if self._display is None:
            if now - self._started < self._show_after:
                return
            self._start()
        elif not force and now - self._last_draw < _REDRAW_SECONDS:
            return
        self._last_draw = now
        done = self._done if self._total is None else min(self._done, self._total)
        self._display.update(
            self._task,
            completed=done,
            count="" if self._total is None else f"{done:,}/{self._total:,}",
            elapsed=f"{now - self._started:.0f} s",
        )
        self._display.refresh()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        console = Console(file=self._file if self._file is not None else sys.stdout, highlight=False)
        self._display = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[elapsed]}"),
            console=console,
            auto_refresh=False,  # no refresh thread: see the module docstring
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._display.start()
        self._task = self._add_task(self._label, self._total)

    def _add_task(self, label: str, total: int | None) -> Any:
        return self._display.add_task(label, total=total, count="", elapsed="")


def disabled() -> BatchProgress:
    """A progress that never shows: for library callers and tests."""
    return BatchProgress(False)
