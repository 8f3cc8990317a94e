"""`export --terminal` on a real terminal: one frame at a time that fits the window, keys that step and quit,
the terminal restored afterwards — and what a camera would see on that screen decodes to the payload.

The command runs in a pseudo-terminal of a fixed size; its output is fed to a VT100 emulator (pyte), and the
emulated screen's half-block characters are turned back into QR modules and read with zxing.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pyte
import pytest
from PIL import Image

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.transport.payload import new_payload
from dydx_airgap.shared.transport.qr_read import decode_image
from dydx_airgap.shared.transport.terminal_player import fits, fitted_frames
from dydx_airgap.shared.transport.ur.frames import Assembler, encode_frames
from tests.conftest import BIN, assert_clean_failure, run_tool

#: What each half-block character says about the two modules it draws (True = dark), as segno draws them:
#: light modules are the character's foreground, dark ones the terminal's background.
HALF_BLOCKS = {" ": (True, True), "▀": (False, True), "▄": (True, False), "█": (False, False)}


def _time_payload(tmp_path: Path, source_len: int = 150) -> tuple[Path, bytes]:
    moment = "2026-12-01T12:00:00.000Z"
    payload = new_payload(
        "time",
        31337,
        None,
        {"server_time": moment, "relay_time": moment, "source": "x" * source_len},
    )
    path = tmp_path / "time.json"
    path.write_bytes(payload.to_bytes())
    return path, payload.to_bytes()


class PtySession:
    """A command on a pseudo-terminal of ``columns`` × ``rows``, its screen emulated by pyte."""

    def __init__(self, argv: list[str], columns: int, rows: int) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.initial_mode = termios.tcgetattr(slave)
        self.slave = slave
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True
        )
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.raw += chunk
            self.stream.feed(chunk)

    def wait_for(self, text: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.screen.display):
                return
            self.pump(0.1)
        raise AssertionError(f"{text!r} never appeared; screen: {self.screen.display}")

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def status(self) -> str:
        (line,) = [line.rstrip() for line in self.screen.display if line.startswith("frame ")]
        return line

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        os.close(self.master)
        os.close(self.slave)


def screen_to_image(display: list[str]) -> Image.Image:
    """The QR drawn in half blocks on the emulated screen, as a picture a camera would take of it."""
    rows = [line.rstrip() for line in display if line.strip() and set(line.rstrip()) <= set(HALF_BLOCKS)]
    width = max(len(line) for line in rows)
    modules: list[list[bool]] = []
    for line in rows:
        pairs = [HALF_BLOCKS[c] for c in line.ljust(width)]
        modules.append([top for top, _ in pairs])
        modules.append([bottom for _, bottom in pairs])
    scale, margin = 6, 24
    image = Image.new("L", (width * scale + 2 * margin, len(modules) * scale + 2 * margin), 255)
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                image.paste(
                    0,
                    (
                        margin + x * scale,
                        margin + y * scale,
                        margin + (x + 1) * scale,
                        margin + (y + 1) * scale,
                    ),
                )
    return image


def test_the_display_shows_one_fitting_frame_at_a_time_and_its_screens_decode_to_the_payload(
    tmp_path: Path, figure
) -> None:
    path, data = _time_payload(tmp_path, source_len=200)
    session = PtySession([str(BIN / "dydx-relay"), "export", str(path), "--terminal", "--fps", "1"], 80, 24)
    try:
        session.wait_for("frame 1/")
        session.press(b" ")  # pause, so each screen is one frame we control
        assembler = Assembler()
        screens = 0
        while not assembler.is_complete and screens < 200:
            status = session.status()
            assert status.count("frame ") == 1 and status.endswith("space n p q")
            texts = decode_image(screen_to_image(session.screen.display))
            assert len(texts) == 1  # exactly one QR code on the screen
            assembler.add(texts[0])
            screens += 1
            before = status
            session.press(b"n")
            deadline = time.monotonic() + 10
            while session.status() == before and time.monotonic() < deadline:
                session.pump(0.05)
        assert assembler.result() == data
        total = int(session.status().split("/")[1].split()[0])
        assert total > 1
        session.press(b"q")
        assert session.process.wait(15) == 0
        session.pump(0.5)
        assert session.raw.endswith(b"\x1b[?25h\x1b[?1049l") or b"\x1b[?1049l" in session.raw[-200:]
        assert termios.tcgetattr(session.slave) == session.initial_mode  # echo and line mode are back
    finally:
        session.close()
    figure(
        f"terminal QR: {len(data)}-byte payload read back from {screens} emulated 80x24 screens ({total} frames)"
    )


def test_ctrl_c_quits_cleanly_and_restores_the_terminal(tmp_path: Path) -> None:
    path, _ = _time_payload(tmp_path)
    session = PtySession([str(BIN / "dydx-relay"), "export", str(path), "--terminal"], 100, 40)
    try:
        session.wait_for("frame 1/")
        session.press(b"\x03")
        assert session.process.wait(15) == 0
        session.pump(0.5)
        assert b"Traceback" not in session.raw
        assert termios.tcgetattr(session.slave) == session.initial_mode
    finally:
        session.close()


@pytest.mark.parametrize(("columns", "rows"), [(80, 24), (120, 40), (200, 60), (60, 40)])
def test_the_chosen_fragment_size_is_the_largest_that_fits(columns: int, rows: int) -> None:
    data = os.urandom(1400)
    frames = fitted_frames(data, columns, rows)
    assert fits(frames, columns, rows)
    # The fragment size behind ``frames``: one byte more must not fit.
    sizes = [n for n in range(30, 1001) if encode_frames(data, max_fragment_len=n) == frames]
    assert sizes
    bigger = max(sizes) + 1
    if bigger <= 1000:
        assert not fits(encode_frames(data, max_fragment_len=bigger), columns, rows)


def test_a_terminal_too_small_for_any_frame_is_refused() -> None:
    with pytest.raises(InputError, match="too small"):
        fitted_frames(os.urandom(500), 30, 10)


def test_terminal_display_without_a_terminal_points_to_static(tmp_path: Path) -> None:
    path, _ = _time_payload(tmp_path)
    result = run_tool("dydx-relay", "export", path, "--terminal")
    assert_clean_failure(result, "--terminal --static")
    static = run_tool("dydx-relay", "export", path, "--terminal", "--static")
    assert static.code == 0 and "frame 1/" in static.out
