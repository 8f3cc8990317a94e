"""Bounds on a keystore's KDF parameters, checked before the password is tried.

A V3 keystore names its own KDF cost. Used as found, a hostile file (pbkdf2 with c = 2^31-1, scrypt with
p = 2^20 or n = 2^22) runs for minutes or takes gigabytes before the MAC check can fail. The bounds admit
every standard keystore (geth and eth-account: scrypt n = 2^18, r = 8, p = 1; pbkdf2 c up to 10^6) with
room to spare, and nothing that costs more than about a quarter GiB or a few seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dydx_airgap.shared.errors import InputError

#: scrypt memory is 128·n·r bytes.
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024
#: scrypt work grows with n·r·p: at most the standard n = 2^18, r = 8 times p = 4.
MAX_SCRYPT_WORK = (1 << 18) * 8 * 4
MAX_PBKDF2_ITERATIONS = 5_000_000
DKLEN = 32


def _int(params: dict[str, Any], name: str, path: Path) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"keystore {path}: KDF parameter {name} must be a positive integer")
    return value


def check_keystore_kdf(data: dict[str, Any], path: Path) -> None:
    crypto = data.get("crypto", data.get("Crypto"))
    if not isinstance(crypto, dict) or not isinstance(crypto.get("kdfparams"), dict):
        raise InputError(f"keystore {path} is malformed (no crypto.kdfparams)")
    kdf, params = crypto.get("kdf"), crypto["kdfparams"]
    if _int(params, "dklen", path) != DKLEN:
        raise InputError(f"keystore {path}: dklen must be {DKLEN}")
    if kdf == "scrypt":
        n, r, p = (_int(params, name, path) for name in ("n", "r", "p"))
        if n < 2 or n & (n - 1):
            raise InputError(f"keystore {path}: scrypt n must be a power of two")
        memory = 128 * n * r
        if memory > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
            raise InputError(
                f"keystore {path}: scrypt n={n}, r={r}, p={p} would need {memory // (1 << 20)} MiB and "
                f"{n * r * p // MAX_SCRYPT_WORK + 1}x the work this tool allows (at most "
                f"{MAX_SCRYPT_MEMORY >> 20} MiB, n·r·p ≤ {MAX_SCRYPT_WORK}); re-encrypt it with standard "
                "parameters on a trusted machine"
            )
    elif kdf == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise InputError(f"keystore {path}: pbkdf2 prf must be hmac-sha256")
        c = _int(params, "c", path)
        if c > MAX_PBKDF2_ITERATIONS:
            raise InputError(
                f"keystore {path}: pbkdf2 c={c} is above the {MAX_PBKDF2_ITERATIONS} iterations this tool "
                "allows; re-encrypt it with standard parameters on a trusted machine"
            )
    else:
        raise InputError(f"keystore {path}: unsupported KDF {str(kdf)[:20]!r} (scrypt or pbkdf2)")
