"""BIP-39 (English) and BIP-32 private derivation on hashlib and coincurve, for every mnemonic the cold side
loads (`derive`, `recover`, `sign`, `derive-v4`).

eth-account's HD-wallet helpers gave the same keys, but importing eth-account costs about half a second of
start-up and its BIP-32 walks the whole path for every account, computing each parent's public key in pure
Python: about 0.45 ms per account. Here the path's parent nodes are computed once per batch, so the usual
``m/44'/60'/0'/0/i`` costs one HMAC-SHA512 per account. ``tests/offline/test_hd.py`` proves identical output
against eth-account on thousands of mnemonics, passphrases and paths, and against BIP-32's own test vectors.

The mathematics is BIP-32's and BIP-39's, and the choices where eth-account had to make one are its:

* the seed is PBKDF2-HMAC-SHA512 (2048 rounds) of the NFKD mnemonic, salted with "mnemonic" + the NFKD
  passphrase;
* a child whose I_L is not below the curve order, or whose key is zero (probability about 2^-127), is
  skipped for the next index, as BIP-32 says and eth-account does;
* an index of 2^31 or more in a path is refused (eth-account accepted 2^31 itself as an unhardened index,
  which then equals the hardened 0'); so is a master key that is not a valid private key (2^-127).

Only English mnemonics are accepted, and they are checked here before any use: unlike eth-account's
``seed_from_mnemonic``, nothing guesses the language (it refused English phrases whose words all occur in
another list too), expands abbreviations, or quotes the phrase in an error. Every secret stays in
:class:`Secret` or in a :class:`Bip32Deriver`, whose repr says nothing and which cannot be pickled.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import cache
from importlib import resources

from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.secret import Secret

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HARDENED = 0x80000000
PBKDF2_ROUNDS = 2048
WORD_COUNTS = (12, 15, 18, 21, 24)
#: SHA-256 of BIP-39's english.txt (2048 lines, LF): the packaged copy is checked against it on load.
WORDLIST_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
_PATH_NODE = re.compile(r"([0-9]{1,10})('?)")


@cache
def english_words() -> tuple[str, ...]:
    """BIP-39's English word list, in order (the index of a word is its 11-bit value)."""
    raw = resources.files("dydx_airgap.offline").joinpath("data/bip39-english.txt").read_bytes()
    if hashlib.sha256(raw).hexdigest() != WORDLIST_SHA256:
        raise VerificationError("the packaged BIP-39 word list is damaged: reinstall dydx-airgap")
    words = tuple(raw.decode("ascii").split("\n")[:-1])
    if len(words) != 2048:
        raise VerificationError("the packaged BIP-39 word list is damaged: reinstall dydx-airgap")
    return words


@cache
def _word_index() -> dict[str, int]:
    return {word: index for index, word in enumerate(english_words())}


def normalise_mnemonic(text: str) -> str:
    """Lower case, single spaces: how an operator may type a phrase, in the form BIP-39 hashes."""
    return " ".join(text.strip().lower().split())


def check_mnemonic(phrase: Secret[str]) -> Secret[str]:
    """The phrase in normal form if it is a valid English BIP-39 mnemonic; otherwise an error that names
    positions, never words (the words are the key)."""
    words = normalise_mnemonic(phrase.reveal()).split()
    if len(words) not in WORD_COUNTS:
        raise InputError(f"a BIP-39 mnemonic has 12, 15, 18, 21 or 24 words, this one has {len(words)}")
    index = _word_index()
    unknown = [str(position + 1) for position, word in enumerate(words) if word not in index]
    if unknown:
        raise InputError(
            f"mnemonic word(s) at position {', '.join(unknown[:5])} are not BIP-39 English words"
        )
    bits = 0
    for word in words:
        bits = (bits << 11) | index[word]
    checksum_bits = len(words) // 3  # 11·words = 32·checksum_bits + 8·entropy bytes
    entropy = (bits >> checksum_bits).to_bytes(checksum_bits * 4, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    if not hmac.compare_digest(
        (bits & ((1 << checksum_bits) - 1)).to_bytes(1, "big"), expected.to_bytes(1, "big")
    ):
        raise InputError("mnemonic checksum is wrong: a word is mistyped or out of order")
    return Secret(" ".join(words))


def mnemonic_from_entropy(entropy: Secret[bytes]) -> Secret[str]:
    """The English BIP-39 mnemonic of 16, 20, 24, 28 or 32 bytes of entropy."""
    raw = entropy.reveal()
    if len(raw) not in (16, 20, 24, 28, 32):
        raise InputError("BIP-39 entropy is 16, 20, 24, 28 or 32 bytes")
    checksum_bits = len(raw) // 4
    bits = (int.from_bytes(raw, "big") << checksum_bits) | (
        hashlib.sha256(raw).digest()[0] >> (8 - checksum_bits)
    )
    count = (len(raw) * 8 + checksum_bits) // 11
    words = english_words()
    return Secret(" ".join(words[(bits >> (11 * (count - 1 - i))) & 0x7FF] for i in range(count)))


def seed_from_mnemonic(phrase: Secret[str], passphrase: Secret[str]) -> Secret[bytes]:
    """BIP-39 seed of a mnemonic that :func:`check_mnemonic` accepts (it is checked again here)."""
    words = check_mnemonic(phrase).reveal()
    password = unicodedata.normalize("NFKD", words).encode("utf-8")
    salt = ("mnemonic" + unicodedata.normalize("NFKD", passphrase.reveal())).encode("utf-8")
    return Secret(hashlib.pbkdf2_hmac("sha512", password, salt, PBKDF2_ROUNDS))


def parse_path(path: str) -> tuple[int, ...]:
    """``m/44'/60'/0'/0/7`` -> its indices, hardened ones with 2^31 added."""
    parts = path.split("/")
    if parts[0] != "m" or len(parts) < 2:
        raise InputError(f"derivation path {path!r} must look like m/44'/60'/0'/0/0")
    out = []
    for part in parts[1:]:
        node = _PATH_NODE.fullmatch(part)
        if node is None or int(node[1]) >= HARDENED:
            raise InputError(
                f"derivation path {path!r}: each step is a number below 2^31, ' marking a hardened one"
            )
        out.append(int(node[1]) + (HARDENED if node[2] else 0))
    return tuple(out)


def _compressed_public_key(private_key: bytes) -> bytes:
    import coincurve

    return bytes(coincurve.PrivateKey(private_key).public_key.format(compressed=True))


class _Node:
    """An extended private key: key, chain code, and the compressed public key once a child needed it."""

    __slots__ = ("chain", "key", "public")

    def __init__(self, key: bytes, chain: bytes) -> None:
        self.key = key
        self.chain = chain
        self.public: bytes | None = None

    def __repr__(self) -> str:
        return "_Node(<secret>)"


class Bip32Deriver:
    """BIP-32 private keys of one seed; each parent node on the way is computed once and kept, so a batch
    of siblings (``m/44'/60'/0'/0/0`` … ``/9999``) costs one HMAC-SHA512 per key.

    It holds the seed's extended private keys: keep it for one batch only. Its repr says nothing, and it
    cannot be pickled.
    """

    __slots__ = ("_nodes",)

    def __init__(self, seed: Secret[bytes]) -> None:
        master = hmac.digest(b"Bitcoin seed", seed.reveal(), "sha512")
        if not 0 < int.from_bytes(master[:32], "big") < SECP256K1_N:
            raise InputError("this seed gives no valid BIP-32 master key")
        self._nodes: dict[tuple[int, ...], _Node] = {(): _Node(master[:32], master[32:])}

    def __repr__(self) -> str:
        return "Bip32Deriver(<secret>)"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("extended keys are not picklable")

    def private_key(self, path: str) -> Secret[bytes]:
        """The private key at ``path`` (32 bytes)."""
        indices = parse_path(path)
        return Secret(self._child(self._node(indices[:-1]), indices[-1]).key)

    def _node(self, indices: tuple[int, ...]) -> _Node:
        node = self._nodes.get(indices)
        if node is None:
            node = self._nodes[indices] = self._child(self._node(indices[:-1]), indices[-1])
        return node

    @staticmethod
    def _child(parent: _Node, index: int) -> _Node:
        parent_value = int.from_bytes(parent.key, "big")
        hardened = index >= HARDENED
        if hardened:
            data = b"\x00" + parent.key
        else:
            if parent.public is None:
                parent.public = _compressed_public_key(parent.key)
            data = parent.public
        while True:
            digest = hmac.digest(parent.chain, data + index.to_bytes(4, "big"), "sha512")
            tweak = int.from_bytes(digest[:32], "big")
            child = (tweak + parent_value) % SECP256K1_N
            if tweak < SECP256K1_N and child != 0:
                return _Node(child.to_bytes(32, "big"), digest[32:])
            index += 1  # BIP-32: proceed with the next index (probability about 2^-127)
            if index >= 1 << 32 or (index >= HARDENED) != hardened:
                raise InputError("this seed gives no valid key at the requested index")


def private_key_from_seed(seed: Secret[bytes], path: str) -> Secret[bytes]:
    """One key: the seed's BIP-32 private key at ``path``."""
    return Bip32Deriver(seed).private_key(path)
