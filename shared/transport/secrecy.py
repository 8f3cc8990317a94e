"""Which payloads are secrets: those carrying the seed of a derived secret, or secrets sealed to a recipient.

The onboarding request's signature is, by dYdX's design, the seed of the account's default API key,
secret and passphrase (spec dydx-v3.md §5, §9): anyone who reads the file, one of its QR frames or the page
that cycles them can compute those credentials. So every copy of such a payload — the signed file, the
imported file, PNG frames, the HTML page, an evidence bundle holding it — is written 0600 like any secret
and the operator is told so.

A ``sealed-credentials`` payload carries the STARK private keys and API secrets themselves, encrypted to the
trading host's age recipient. The encryption is the protection, but a file that is one stolen recipient key
away from every trading key is kept like a secret too: 0600 everywhere, with its own notice.
"""

from __future__ import annotations

from dydx_airgap.shared.canonical_json import canonical_loads
from dydx_airgap.shared.errors import FormatError

#: Kinds whose content includes a derivation seed (the onboarding signature) or sealed secrets.
SEED_CARRYING_KINDS = frozenset({"onboarding-request", "sealed-credentials"})

SECRET_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755

SEED_NOTICE = (
    "written 0600: this payload's signature is the seed of the default API credentials; "
    "keep every copy (file, frames, page) as secret as the credentials themselves"
)


SEALED_NOTICE = (
    "written 0600: it holds trading and withdrawal keys sealed to the recipient; anyone with the "
    "recipient's private key can open it, so keep every copy (file, frames, page) as a secret"
)


def secret_notice(kind: str) -> str:
    """What the operator is told about a secret payload's copies."""
    return SEALED_NOTICE if kind == "sealed-credentials" else SEED_NOTICE


def carries_secret_seed(kind: str) -> bool:
    return kind in SEED_CARRYING_KINDS


def file_mode_for(kind: str) -> int:
    return SECRET_FILE_MODE if carries_secret_seed(kind) else PUBLIC_FILE_MODE


def bytes_carry_secret_seed(data: bytes) -> bool:
    """For files of unknown content (a bundle's members): a payload of a seed-carrying kind?"""
    try:
        value = canonical_loads(data, max_bytes=max(len(data), 1))
    except (FormatError, RecursionError, ValueError):
        return False
    return (
        isinstance(value, dict) and isinstance(value.get("kind"), str) and carries_secret_seed(value["kind"])
    )
