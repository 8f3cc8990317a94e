"""Which payloads are secrets: those that carry the seed of a derived secret.

The onboarding request's signature is, by dYdX's design, the seed of the account's default API key,
secret and passphrase (spec dydx-v3.md §5, §9): anyone who reads the file, one of its QR frames or the page
that cycles them can compute those credentials. So every copy of such a payload — the signed file, the
imported file, PNG frames, the HTML page, an evidence bundle holding it — is written 0600 like any secret
and the operator is told so.
"""

from __future__ import annotations

from dydx_airgap.shared.canonical_json import canonical_loads
from dydx_airgap.shared.errors import FormatError

#: Kinds whose content includes a derivation seed (the onboarding signature).
SEED_CARRYING_KINDS = frozenset({"onboarding-request"})

SECRET_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755

SEED_NOTICE = (
    "written 0600: this payload's signature is the seed of the default API credentials; "
    "keep every copy (file, frames, page) as secret as the credentials themselves"
)


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
