"""offline/keys/hd.py (BIP-39 English, BIP-32 private derivation) gives exactly eth-account's keys.

Differential on thousands of cases: mnemonics of every length from the OS CSPRNG, passphrases with
characters NFKD changes, every account index a batch derives, random paths of every depth with hardened
and unhardened steps up to 2^31 - 1; plus BIP-32's own test vectors and the skip rule for an invalid child.
"""

from __future__ import annotations

import pickle
import secrets

import pytest
from eth_account.hdaccount import Mnemonic, key_from_seed
from eth_account.hdaccount import deterministic as eth_deterministic
from eth_account.hdaccount import seed_from_mnemonic as eth_seed_from_mnemonic

from dydx_airgap.offline.keys import hd
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.secret import Secret

TEST_MNEMONIC = "test test test test test test test test test test test junk"


def test_the_packaged_word_list_is_bip39_english() -> None:
    assert list(hd.english_words()) == Mnemonic().wordlist


@pytest.mark.parametrize("entropy_bytes", [16, 20, 24, 28, 32])
def test_mnemonics_and_seeds_equal_eth_account(entropy_bytes: int) -> None:
    english = Mnemonic()
    passphrases = ["", "TREZOR", "pässphrase", "ｆｕｌｌｗｉｄｔｈ", "Å ﬁ ① ㌀"]  # NFKD changes all but two
    for case in range(40):
        entropy = secrets.token_bytes(entropy_bytes)
        phrase = hd.mnemonic_from_entropy(Secret(entropy)).reveal()
        assert phrase == english.to_mnemonic(entropy)
        assert hd.check_mnemonic(Secret("  " + phrase.upper() + " ")).reveal() == phrase
        passphrase = passphrases[case % len(passphrases)]
        assert hd.seed_from_mnemonic(Secret(phrase), Secret(passphrase)).reveal() == bytes(
            eth_seed_from_mnemonic(phrase, passphrase)
        )


def test_checksums_are_judged_as_eth_account_judges_them() -> None:
    english = Mnemonic()
    words = english.wordlist
    accepted = 0
    for case in range(1500):
        count = hd.WORD_COUNTS[case % len(hd.WORD_COUNTS)]
        phrase = " ".join(words[secrets.randbelow(2048)] for _ in range(count))
        valid = english.is_mnemonic_valid(phrase)
        if valid:
            accepted += 1
            assert hd.check_mnemonic(Secret(phrase)).reveal() == phrase
        else:
            with pytest.raises(InputError, match="checksum"):
                hd.check_mnemonic(Secret(phrase))
    assert accepted > 0  # about one in 2^(checksum bits) of random phrases is valid


def test_mnemonic_errors_name_positions_never_words() -> None:
    with pytest.raises(InputError, match="has 11") as wrong_count:
        hd.check_mnemonic(Secret("test " * 10 + "junk"))
    with pytest.raises(InputError, match="position 3") as unknown:
        hd.check_mnemonic(Secret("test test tset test test test test test test test test junk"))
    assert "tset" not in str(unknown.value) and "junk" not in str(wrong_count.value)


def test_every_account_of_a_batch_equals_eth_account() -> None:
    seed = hd.seed_from_mnemonic(Secret(TEST_MNEMONIC), Secret(""))
    deriver = hd.Bip32Deriver(seed)
    for index in [*range(300), 2**31 - 1, 123_456_789]:
        path = f"m/44'/60'/0'/0/{index}"
        assert deriver.private_key(path).reveal() == bytes(key_from_seed(seed.reveal(), path)), path


def test_random_paths_equal_eth_account() -> None:
    for case in range(600):
        seed = secrets.token_bytes((16, 32, 64)[case % 3])
        depth = 1 + case % 10
        steps = []
        for _ in range(depth):
            value = secrets.randbelow(2**31) if secrets.randbelow(3) == 0 else secrets.randbelow(100)
            steps.append(str(value) + ("'" if secrets.randbelow(2) else ""))
        path = "m/" + "/".join(steps)
        deriver = hd.Bip32Deriver(Secret(seed))
        expected = bytes(key_from_seed(seed, path))
        assert deriver.private_key(path).reveal() == expected, path
        assert deriver.private_key(path).reveal() == expected  # again, from the kept parent nodes
        assert hd.private_key_from_seed(Secret(seed), path).reveal() == expected


# BIP-32 test vector 1: seed 000102…0f.
BIP32_VECTOR_1 = {
    "m/0'": "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea",
    "m/0'/1": "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368",
    "m/0'/1/2'": "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca",
    "m/0'/1/2'/2": "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4",
    "m/0'/1/2'/2/1000000000": "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8",
}


def test_bip32_test_vector_1() -> None:
    deriver = hd.Bip32Deriver(Secret(bytes(range(16))))
    for path, key in BIP32_VECTOR_1.items():
        assert deriver.private_key(path).reveal().hex() == key


def test_an_invalid_child_is_skipped_for_the_next_index_as_eth_account_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """I_L ≥ n happens with probability 2^-127: forced here, in both implementations, for index 5."""
    seed = secrets.token_bytes(32)
    parent = hd.Bip32Deriver(Secret(seed))._node(hd.parse_path("m/44'/60'/0'/0"))
    real_digest = hd.hmac.digest

    def forced(key: bytes, message: bytes, name: str) -> bytes:
        if key == parent.chain and message.endswith((5).to_bytes(4, "big")):
            return b"\xff" * 32 + real_digest(key, message, name)[32:]
        return real_digest(key, message, name)

    real_eth = eth_deterministic.hmac_sha512

    def forced_eth(chain_code: bytes, data: bytes) -> bytes:
        if chain_code == parent.chain and data.endswith((5).to_bytes(4, "big")):
            return b"\xff" * 32 + real_eth(chain_code, data)[32:]
        return real_eth(chain_code, data)

    monkeypatch.setattr(hd.hmac, "digest", forced)
    monkeypatch.setattr(eth_deterministic, "hmac_sha512", forced_eth)
    ours = hd.Bip32Deriver(Secret(seed))
    fifth = ours.private_key("m/44'/60'/0'/0/5").reveal()
    assert fifth == bytes(key_from_seed(seed, "m/44'/60'/0'/0/5"))
    assert fifth == ours.private_key("m/44'/60'/0'/0/6").reveal()  # index 5 was skipped for 6


@pytest.mark.parametrize("path", ["m", "44'/60'", "m/", "m/x", "m/-1", "m/2147483648", "m/0''", "m/0H"])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(InputError):
        hd.parse_path(path)


def test_the_deriver_keeps_its_secrets() -> None:
    deriver = hd.Bip32Deriver(Secret(bytes(range(16))))
    assert "edb2e1" not in repr(deriver)
    with pytest.raises(TypeError):
        pickle.dumps(deriver)
