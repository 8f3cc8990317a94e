"""Where the cold signer's Ethereum key comes from: a V3 keystore, a BIP-39 mnemonic, or a new key.

All three give :class:`~dydx_airgap.offline.keys.cold_key.ColdKey` objects. Secrets come from files (0600)
or a no-echo prompt; the CLI refuses any that appear on the command line. Mnemonics go through
offline/keys/hd.py (BIP-39 and BIP-32 on hashlib and coincurve); eth_account is imported here, lazily, only
for keystores and keygen, because it alone costs about half a second of start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.keystore_bounds import check_keystore_kdf
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.options import KeySourceOptions
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.secret import Secret

DEFAULT_PATH_TEMPLATE = "m/44'/60'/0'/0/{index}"
_PATH = re.compile(r"m(/\d+'?){1,10}")
MAX_ACCOUNTS = 100_000


@dataclass(frozen=True)
class AccountKey:
    index: int
    derivation_path: str | None
    key: ColdKey


def parse_account_range(text: str) -> list[int]:
    """'3' -> [3]; '0-9' -> [0..9]; '0,2,5-7' -> [0,2,5,6,7]."""
    indices: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not m:
            raise InputError(f"account range {text!r} must look like 0, 0-9 or 0,2,5-7")
        low = int(m.group(1))
        high = int(m.group(2)) if m.group(2) else low
        if high < low:
            raise InputError(f"account range {part!r} runs backwards")
        indices.extend(range(low, high + 1))
        if len(indices) > MAX_ACCOUNTS:
            raise InputError(f"at most {MAX_ACCOUNTS} accounts at once")
    if len(set(indices)) != len(indices):
        raise InputError(f"account range {text!r} names an account twice")
    return indices


def _decrypt_keystore(path: Path, password: Secret[str]) -> Secret[bytes]:
    return decrypt_keystore_bytes(read_untrusted_file(path, cap=64 * 1024), password, path)


def decrypt_keystore_bytes(raw: bytes, password: Secret[str], path: Path) -> Secret[bytes]:
    from eth_account import Account

    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a JSON keystore file") from exc
    if (
        not isinstance(data, dict)
        or data.get("version") != 3
        or ("crypto" not in data and "Crypto" not in data)
    ):
        raise InputError(f"{path} is not an Ethereum V3 keystore (version 3 JSON with a crypto section)")
    check_keystore_kdf(data, path)  # before the password is tried: the file names its own cost
    try:
        key = Account.decrypt(data, password.reveal())
    except ValueError as exc:
        if "MAC" in str(exc) or "mac" in str(exc):
            raise InputError(f"wrong password for keystore {path}") from None
        raise InputError(f"keystore {path} is malformed or uses an unsupported cipher") from None
    except (KeyError, TypeError, NotImplementedError):
        raise InputError(f"keystore {path} is malformed or uses an unsupported cipher") from None
    return Secret(bytes(key))


def _mnemonic_seed(phrase: Secret[str], passphrase: Secret[str]) -> Secret[bytes]:
    from dydx_airgap.offline.keys.hd import seed_from_mnemonic

    return seed_from_mnemonic(phrase, passphrase)


def load_keys(options: KeySourceOptions, indices: list[int]) -> Iterator[AccountKey]:
    """Yield one key per requested account index (a keystore holds exactly one: index 0)."""
    chosen = [options.keystore is not None, options.mnemonic_file is not None, options.mnemonic_prompt]
    if sum(chosen) != 1:
        raise InputError(
            "name exactly one key source: --keystore FILE, --mnemonic-file FILE or --mnemonic-prompt"
        )
    if options.keystore is not None:
        if indices != [0]:
            raise InputError("a keystore holds one key: use --account 0 (or a mnemonic for several accounts)")
        if options.derivation_path:
            raise InputError("--path applies to mnemonics, not keystores")
        password = get_secret("keystore password", options.password_file, option_hint="--password-file FILE")
        secret = _decrypt_keystore(options.keystore, password)
        yield AccountKey(0, None, ColdKey(secret, source=f"keystore {options.keystore.name}"))
        return
    from dydx_airgap.offline.keys.hd import Bip32Deriver

    if options.mnemonic_file is not None:
        phrase = get_secret("mnemonic", options.mnemonic_file, option_hint="--mnemonic-file FILE")
    else:
        phrase = get_secret("mnemonic", None, option_hint="--mnemonic-file FILE")
    if options.mnemonic_passphrase_file is not None:
        passphrase = get_secret("mnemonic passphrase", options.mnemonic_passphrase_file, option_hint="")
    else:
        passphrase = Secret("")
    seed = _mnemonic_seed(phrase, passphrase)
    if options.derivation_path is not None:
        if not _PATH.fullmatch(options.derivation_path):
            raise InputError("--path must look like m/44'/60'/0'/0/0")
        if len(indices) != 1:
            raise InputError(
                "--path names one key: give it a single account index (--account N, or --accounts N "
                "for derive)"
            )
    # One deriver for the whole batch: the path's common parent is computed once (offline/keys/hd.py).
    deriver = Bip32Deriver(seed)
    for index in indices:
        path = options.derivation_path or DEFAULT_PATH_TEMPLATE.format(index=index)
        yield AccountKey(index, path, ColdKey(deriver.private_key(path), source=f"mnemonic {path}"))


def generate_key(password: Secret[str]) -> tuple[Secret[str], Secret[bytes], bytes]:
    """A new key from the OS CSPRNG (os.urandom via eth-account's BIP-39 generator).

    Returns the mnemonic (24 words), the private key at m/44'/60'/0'/0/0 and its keystore JSON (scrypt).
    """
    from eth_account import Account
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
    from eth_account.hdaccount.mnemonic import Mnemonic

    phrase = Mnemonic().generate(num_words=24)
    raw = bytes(key_from_seed(seed_from_mnemonic(phrase, ""), DEFAULT_PATH_TEMPLATE.format(index=0)))
    keystore = Account.encrypt(raw, password.reveal(), kdf="scrypt")
    return Secret(phrase), Secret(raw), json.dumps(keystore, indent=2, sort_keys=True).encode("utf-8")


def load_one_key(options: KeySourceOptions, account: int) -> AccountKey:
    """The key of one account, in a hardened process (no core dumps, no ptrace): what a sign command needs."""
    from dydx_airgap.offline.hygiene import harden_process

    harden_process()
    return next(load_keys(options, [account]))


#: How many mnemonic accounts a mismatch search looks at before saying the address is not this key's.
ACCOUNT_SEARCH_LIMIT = 100


def find_account_index(options: KeySourceOptions, address: str) -> int | None:
    """The account index of ``address`` among the first ACCOUNT_SEARCH_LIMIT of a mnemonic, or None.

    Used only to say which ``--account`` a request belongs to; a keystore (one key), a custom ``--path``
    and a typed mnemonic (it would be asked for again) are not searched.
    """
    from dydx_airgap.shared.ethereum.address import same_address

    if options.keystore is not None or options.derivation_path is not None or options.mnemonic_prompt:
        return None
    for candidate in load_keys(options, list(range(ACCOUNT_SEARCH_LIMIT))):
        if same_address(candidate.key.address, address):
            return candidate.index
    return None
