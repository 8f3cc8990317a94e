"""Showing a new mnemonic once, on the terminal itself, the way a person copies it onto paper.

Numbered words in columns (read down each column, like the cards wallets print), then a wait for Enter,
then the screen *and its scrollback* are cleared so the words do not stay behind on a shared display. An
optional re-type check asks for a few words by number: a copy with a wrong or missing word is caught now,
while the words can still be shown again, not years later when the key is needed. Everything goes through
/dev/tty: stdout may be a log or a pipe.
"""

from __future__ import annotations

import os
import secrets

from dydx_airgap.shared.errors import UsageError

COLUMNS = 4
#: Erase the screen, the scrollback (xterm's ED 3) and put the cursor home.
CLEAR_SCREEN = "\x1b[2J\x1b[3J\x1b[H"
CHECK_WORDS = 3
MAX_ATTEMPTS = 3


def numbered_columns(words: list[str], columns: int = COLUMNS) -> str:
    """``  1 abandon     7 ability ...``: word i in row i mod rows, column i div rows (read downwards)."""
    rows = -(-len(words) // columns)
    width = max(len(word) for word in words) + 2
    lines = []
    for row in range(rows):
        cells = []
        for column in range(columns):
            index = column * rows + row
            if index < len(words):
                cells.append(f"{index + 1:>2} {words[index]:<{width}}")
        lines.append("  " + " ".join(cells).rstrip())
    return "\n".join(lines)


class _Terminal:
    def __init__(self) -> None:
        try:
            self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            raise UsageError("no terminal to show the mnemonic on: pass --mnemonic-out FILE") from None

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8"))

    def read_line(self, limit: int = 256) -> str:
        data = b""
        while not data.endswith(b"\n") and len(data) < limit:
            chunk = os.read(self.fd, 1)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", errors="replace").strip()

    def close(self) -> None:
        os.close(self.fd)


def show_mnemonic_once(phrase: str) -> bool:
    """Show the words, wait for Enter, clear; then offer the re-type check. True if the check passed,
    False if it was skipped. The words are shown again after a failed check, at most MAX_ATTEMPTS times."""
    words = phrase.split()
    terminal = _Terminal()
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            terminal.write(
                f"\nYour new mnemonic ({len(words)} words). Write them down on paper now, in order "
                "(read down each column):\n\n" + numbered_columns(words) + "\n\n"
                "Press Enter when you have written them down: the screen is then cleared.\n"
            )
            terminal.read_line()
            terminal.write(CLEAR_SCREEN)
            terminal.write(
                f"Check your copy now? Type the words asked for from your paper ({CHECK_WORDS} words), or "
                "press Enter to skip.\n"
            )
            positions = sorted(_distinct_positions(len(words), CHECK_WORDS))
            wrong = None
            for number, position in enumerate(positions):
                terminal.write(f"word #{position + 1}: ")
                answer = terminal.read_line().lower()
                if number == 0 and answer == "":
                    terminal.write("check skipped.\n")
                    return False
                if answer != words[position]:
                    wrong = position
                    break
            if wrong is None:
                terminal.write("your copy matches.\n")
                return True
            terminal.write(
                f"word #{wrong + 1} does not match your copy. The words are shown again "
                f"(attempt {attempt + 1} of {MAX_ATTEMPTS}).\n"
                if attempt < MAX_ATTEMPTS
                else f"word #{wrong + 1} does not match your copy.\n"
            )
        raise UsageError(
            "the re-typed words did not match the mnemonic shown: no keystore was written; run keygen again "
            "(a new key) and copy the words carefully"
        )
    finally:
        terminal.close()


def _distinct_positions(count: int, wanted: int) -> set[int]:
    chosen: set[int] = set()
    while len(chosen) < min(wanted, count):
        chosen.add(secrets.randbelow(count))
    return chosen
