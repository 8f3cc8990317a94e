"""One rule for every passphrase that protects a secret at rest (keystore password, vault passphrase).

Both files hold key material an attacker may copy and attack offline, so the same minimum applies to both.
Length is counted in Unicode code points after NFC normalisation, so a passphrase typed on another keyboard
layout counts the same.
"""

from __future__ import annotations

import unicodedata

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.secret import Secret

MIN_PASSPHRASE_CHARS = 8


def require_strong_passphrase(passphrase: Secret[str], what: str) -> None:
    text = unicodedata.normalize("NFC", passphrase.reveal())
    if len(text) < MIN_PASSPHRASE_CHARS:
        raise InputError(
            f"choose a {what} of at least {MIN_PASSPHRASE_CHARS} characters; nothing was written"
        )
    if not text.strip():
        raise InputError(f"a {what} of only spaces is refused; nothing was written")
