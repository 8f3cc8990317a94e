"""Typed errors. Every message is one line, says what to do, and never contains secret material.

The CLIs turn an ``AirgapError`` into ``error: <message>`` on stderr and a non-zero exit; anything else
is a bug and is reported by type name only (its text might carry data we must not print).
"""

from __future__ import annotations


class AirgapError(Exception):
    """Base class of every error the tools report to a person."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line message could hide a second, forged line on a review screen.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(AirgapError):
    """The command was called in a way that cannot work (e.g. a secret on the command line)."""

    exit_code = 2


class InputError(AirgapError):
    """A file, prompt answer or option value is unreadable, malformed or the wrong kind."""


class FormatError(InputError):
    """Bytes that do not decode to what they claim to be (payload, frame, signature, vectors)."""


class SignatureError(AirgapError):
    """A signature is malformed, non-canonical, or does not verify."""


class PolicyError(AirgapError):
    """The request is well-formed but refused by policy (derivation firewall, caps, allow-lists)."""


class VerificationError(AirgapError):
    """A check over data that should be consistent failed (hash, digest, chain, receipt)."""


class RemoteError(AirgapError):
    """The API or the Ethereum node answered with an error or not at all."""
