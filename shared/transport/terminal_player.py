"""Animated QR frames on a terminal: one frame at a time, full screen, sized to fit the terminal it runs in.

Printing every frame into the scrollback (what ``--terminal --static`` still does, for logs) leaves the
operator scrolling while a phone tries to read a moving target, and a 1000-byte fragment makes a frame far
taller than 24 rows. Here the fragment size is chosen so that one frame — QR modules at two rows per text
line (half blocks), the quiet zone and one status line — fits the terminal's columns and rows; the frames
then cycle at a fixed rate on the alternate screen, and keys pause, step or quit. The terminal's mode and
screen are restored however the player ends (a key, end of input, Ctrl-C or an error).

Nothing here opens a socket: it reads keys from the terminal the operator is sitting at, which the cold
machine's boundary allows.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import tty
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.transport.qr_render import QUIET_ZONE, make_qr, render_terminal
from dydx_airgap.shared.transport.ur.frames import encode_frames

#: Fragment sizes tried, largest first; below 30 bytes a frame is mostly header and the count explodes.
_SMALLEST_FRAGMENT = 30
_LARGEST_FRAGMENT = 1000
STATUS_LINES = 1

_ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J"  # alternate screen, hide the cursor, clear
_LEAVE = "\x1b[?25h\x1b[?1049l"  # show the cursor, back to the normal screen
_HOME = "\x1b[H"
_CLEAR_TO_END = "\x1b[J"


def frame_cells(frame: str) -> tuple[int, int]:
    """Columns and text rows one frame takes when drawn with half blocks, quiet zone included."""
    side = int(make_qr(frame).symbol_size(border=QUIET_ZONE)[0])
    return side, (side + 1) // 2


def fits(frames: Sequence[str], columns: int, rows: int) -> bool:
    # The frames differ only in their part header and fragment, so the longest text is the largest symbol.
    width, height = frame_cells(max(frames, key=len))
    return width <= columns and height + STATUS_LINES <= rows


def fitted_frames(data: bytes, columns: int, rows: int) -> list[str]:
    """The frames of ``data`` with the largest fragment size whose every frame fits ``columns`` × ``rows``.

    Fewer, larger frames carry a payload in fewer cycles, so the search keeps the largest size that fits;
    a frame's size grows with its fragment, so a binary search over the fragment size finds it.
    """
    low, high = _SMALLEST_FRAGMENT, _LARGEST_FRAGMENT
    if not fits(encode_frames(data, max_fragment_len=low), columns, rows):
        raise InputError(
            f"a {columns}×{rows} terminal is too small for a readable QR frame; enlarge the window "
            "(or use --qr-dir / --html)"
        )
    best = low
    while low <= high:
        middle = (low + high) // 2
        if fits(encode_frames(data, max_fragment_len=middle), columns, rows):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return encode_frames(data, max_fragment_len=best)


@dataclass
class Player:
    """Cycles ``frames`` on ``out`` and reads single keys from ``keys_fd`` (both the terminal)."""

    frames: Sequence[str]
    label: str
    out: TextIO
    keys_fd: int
    fps: float = 3.0
    columns: int = 80
    index: int = 0
    paused: bool = False

    def draw(self) -> None:
        picture = render_terminal(self.frames[self.index]).rstrip("\n").replace("\n", "\x1b[K\r\n")
        state = "paused" if self.paused else "playing"
        status = f"frame {self.index + 1}/{len(self.frames)}  {self.label}  {state}  space n p q"
        status = status[: self.columns - 1]  # a wrapped status line would scroll the frame up
        self.out.write(f"{_HOME}{picture}\x1b[K\r\n{status}\x1b[K{_CLEAR_TO_END}")
        self.out.flush()

    def handle(self, key: str) -> bool:
        """Apply one key; False when the player should stop."""
        if key in ("q", "Q", "\x1b", "\x03", "\x04"):  # q, Esc, Ctrl-C, Ctrl-D
            return False
        if key == " ":
            self.paused = not self.paused
        elif key in ("n", "N", "l"):
            self.paused = True
            self.index = (self.index + 1) % len(self.frames)
        elif key in ("p", "P", "h"):
            self.paused = True
            self.index = (self.index - 1) % len(self.frames)
        return True

    def run(self) -> int:
        """Play until a quitting key or the end of the key input; returns how many frames were shown."""
        shown = 0
        with _terminal_mode(self.keys_fd, self.out):
            while True:
                self.draw()
                shown += 1
                ready, _, _ = select.select([self.keys_fd], [], [], 1.0 / self.fps)
                if ready:
                    chunk = os.read(self.keys_fd, 32).decode("utf-8", "replace")
                    if not chunk:
                        return shown  # the terminal went away
                    if not all(self.handle(key) for key in chunk):
                        return shown
                elif not self.paused:
                    self.index = (self.index + 1) % len(self.frames)


@contextlib.contextmanager
def _terminal_mode(fd: int, out: TextIO) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    out.write(_ENTER)
    out.flush()
    try:
        tty.setcbreak(fd)  # keys arrive one at a time, unechoed; Ctrl-C arrives as a key, not a signal
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ISIG
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        out.write(_LEAVE)
        out.flush()


def terminal_frames_for(data: bytes, fragment_size: int | None) -> list[str]:
    """The frames to play on this terminal: fitted to its size, or at ``fragment_size`` if that fits.

    Refuses when stdin or stdout is not a terminal (the display needs one, and so do the keys).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError(
            "--terminal needs a terminal for its display and keys; use --terminal --static for a log"
        )
    size = os.get_terminal_size(sys.stdout.fileno())
    if fragment_size is None:
        return fitted_frames(data, size.columns, size.lines)
    frames = encode_frames(data, max_fragment_len=fragment_size)
    if not fits(frames, size.columns, size.lines):
        width, height = frame_cells(max(frames, key=len))
        raise InputError(
            f"a frame of --fragment-size {fragment_size} needs {width}×{height + STATUS_LINES} characters; "
            f"this terminal is {size.columns}×{size.lines}: leave out --fragment-size to fit it"
        )
    return frames


def play_on_this_terminal(frames: Sequence[str], label: str, fps: float) -> int:
    """Play ``frames`` on the terminal at stdin/stdout; returns how many frames were drawn."""
    columns = os.get_terminal_size(sys.stdout.fileno()).columns
    return Player(frames, label, sys.stdout, sys.stdin.fileno(), fps, columns).run()
