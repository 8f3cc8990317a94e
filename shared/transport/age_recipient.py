"""The trading host's age recipient: parsing it, its fingerprint, and sealing to it (pyrage, never our own
cryptography).

The trading host makes its key pair with a standard tool (``age-keygen -o key.txt``, or an existing
``ssh-keygen -t ed25519`` key) and only the public recipient string crosses to the cold machine or the relay.
Both sides parse it here, show the same fingerprint (the first 8 bytes of SHA-256 over the recipient's
canonical text, ``xxxx-xxxx-xxxx-xxxx``) and seal with the same call, so the trading host can check the
fingerprint with ``sha256sum`` and decrypt with ``age -d`` alone: no code of ours ever holds the recipient's
private key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from dydx_airgap.shared.errors import InputError, UsageError
from dydx_airgap.shared.fsutil import read_untrusted_file

#: age's native X25519 recipients: bech32, HRP "age", 32-byte key (62 characters in all).
_AGE_X25519 = re.compile(r"age1[02-9ac-hj-np-z]{58}")
#: An OpenSSH ed25519 public key line: type, base64 of the 51-byte key blob, then an optional comment.
_SSH_ED25519 = re.compile(r"ssh-ed25519 (AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43})(?: .*)?")
#: Markers of *private* key files: refused without echoing a byte of them.
_PRIVATE_MARKERS = ("AGE-SECRET-KEY-", "PRIVATE KEY", "AGE-PLUGIN-")
MAX_RECIPIENT_FILE = 16 * 1024

X25519 = "age-x25519"
SSH_ED25519 = "ssh-ed25519"

HOW_TO_MAKE = (
    "make one on the trading host with age-keygen -o key.txt (its public line: age-keygen -y key.txt)"
)


@dataclass(frozen=True)
class Recipient:
    """A recipient the cold side and the relay may seal to."""

    text: str  # canonical: ``age1…``, or ``ssh-ed25519 AAAA…`` without the comment
    type: str  # X25519 or SSH_ED25519

    @property
    def fingerprint(self) -> str:
        return recipient_fingerprint(self.text)

    def trading_host_check(self) -> str:
        """The command whose first 16 hex digits the trading host compares with :attr:`fingerprint`."""
        if self.type == SSH_ED25519:
            return "printf %s \"$(cut -d' ' -f1-2 id_ed25519.pub)\" | sha256sum"
        return 'printf %s "$(age-keygen -y key.txt)" | sha256sum'


def recipient_fingerprint(text: str) -> str:
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


def _looks_private(text: str) -> bool:
    upper = text.upper()
    return any(marker in upper for marker in _PRIVATE_MARKERS)


def parse_recipient(text: str) -> Recipient:
    """An ``age1…`` X25519 recipient or an ``ssh-ed25519`` public key; anything else is refused.

    The message never repeats the input: a mistaken paste could be a private key.
    """
    if _looks_private(text):
        raise UsageError(
            "that is a private key, not a recipient: give the public line only "
            "(age-keygen -y key.txt, or the .pub file of an ssh key)"
        )
    line = text.strip()
    if "\n" in line or "\r" in line:
        raise InputError("a recipient is one line: give one age1… recipient or one ssh-ed25519 public key")
    if _AGE_X25519.fullmatch(line):
        kind, canonical = X25519, line
    else:
        match = _SSH_ED25519.fullmatch(line)
        if match is None:
            raise InputError(
                "not an age recipient: expected age1… (62 characters) or an ssh-ed25519 public key; "
                + HOW_TO_MAKE
            )
        kind, canonical = SSH_ED25519, f"ssh-ed25519 {match.group(1)}"
    # The regular expressions pin the shape; pyrage checks the encoding itself (bech32 checksum, key blob).
    import pyrage

    try:
        if kind == X25519:
            pyrage.x25519.Recipient.from_str(canonical)
        else:
            pyrage.ssh.Recipient.from_str(canonical)
    except pyrage.RecipientError:
        raise InputError(
            "not a valid age recipient: its checksum or key encoding is wrong (check the copy); "
            + HOW_TO_MAKE
        ) from None
    return Recipient(canonical, kind)


def read_recipient_file(path: Path) -> Recipient:
    """The recipient as it crossed from the trading host: a file holding one recipient line (``#`` comment
    lines, as age-keygen writes them, are skipped)."""
    data = read_untrusted_file(path, cap=MAX_RECIPIENT_FILE)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a recipient file (not ASCII text)") from None
    if _looks_private(text):
        raise UsageError(
            f"{path} holds a private key: give the trading host's public recipient only "
            "(age-keygen -y key.txt > recipient.txt, or its id_ed25519.pub)"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise InputError(f"{path} must hold exactly one recipient line; it holds {len(lines)}")
    return parse_recipient(lines[0])


def recipient_from_options(to: str | None, to_file: Path | None) -> Recipient:
    if to is not None and to_file is None:
        return parse_recipient(to)
    if to_file is not None and to is None:
        return read_recipient_file(to_file)
    raise InputError("name the recipient once: --to RECIPIENT or --to-file FILE")


def seal(plaintext: bytes, recipient: Recipient) -> str:
    """The age file (ASCII armor) that ``age -d -i KEY`` decrypts, for this one recipient."""
    import pyrage

    if recipient.type == X25519:
        parsed: pyrage.x25519.Recipient | pyrage.ssh.Recipient = pyrage.x25519.Recipient.from_str(
            recipient.text
        )
    else:
        parsed = pyrage.ssh.Recipient.from_str(recipient.text)
    return pyrage.encrypt(plaintext, [parsed], armored=True).decode("ascii")
