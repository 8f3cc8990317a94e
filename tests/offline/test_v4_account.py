"""The v4 derivation chain against the kit's vectors: typed data → signature → entropy → mnemonic → seed →
key → public keys → hash160 → dydx/noble addresses, for the upstream JS vector and each derivation."""

from __future__ import annotations

import hashlib
from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from dydx_airgap.offline.keys import v4_account
from dydx_airgap.shared.dydx_v4 import onboarding
from dydx_airgap.shared.dydx_v4.address import (
    dydx_address,
    noble_address,
    parse_address,
    pubkey_hash160,
    same_account,
)
from dydx_airgap.shared.dydx_v4.networks import MAINNET, TESTNET, network_by_chain_id
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.secret import Secret
from tests.dydx_v4_vectors import v4

DATA = v4()
DERIVATIONS: list[dict[str, Any]] = DATA["derivations"]
UPSTREAM: dict[str, Any] = DATA["upstream_js_vector"]
DERIVATION_IDS = [d["name"] for d in DERIVATIONS]


def _eth_key(d: dict[str, Any]) -> Secret[bytes]:
    return Secret(bytes.fromhex(d["eth_private_key"].removeprefix("0x")))


def test_vectors_cover_both_eip712_chain_ids() -> None:
    assert len(DERIVATIONS) == 4
    assert {d["eip712_chain_id"] for d in DERIVATIONS} == {1, 11155111}


# --- EIP-712 ------------------------------------------------------------------------------------------------


def test_type_hashes_are_the_spec_constants() -> None:
    # spec §A1/§B1: the message type hash begins 0x50c75e3b and ends 39ec; the domain's is given in full.
    assert onboarding.message_type_hash().hex().startswith("50c75e3b")
    assert onboarding.message_type_hash().hex().endswith("39ec")
    assert onboarding.message_type_hash() == keccak256(b"dYdX(string action)")
    assert onboarding.domain_type_hash().hex() == (
        "cc85e4a69ca54da41cc4383bb845cbd1e15ef8a13557a6bed09b8bea2a0d92ff"
    )


def test_network_records_carry_the_eip712_chain_id_of_each_environment() -> None:
    for d in DERIVATIONS:
        network = network_by_chain_id(d["dydx_chain_id"])
        assert network.eip712_chain_id == d["eip712_chain_id"]
        assert network.name == d["network"]
    assert (MAINNET.eip712_chain_id, TESTNET.eip712_chain_id) == (1, 11155111)


@pytest.mark.parametrize("d", DERIVATIONS, ids=DERIVATION_IDS)
def test_typed_data_domain_struct_and_digest_match(d: dict[str, Any]) -> None:
    chain_id = d["eip712_chain_id"]
    assert onboarding.typed_data(chain_id) == d["typed_data"]
    assert onboarding.domain_separator(chain_id).hex() == d["eip712_domain_separator"]
    assert onboarding.struct_hash().hex() == d["eip712_struct_hash"]
    assert onboarding.digest(chain_id).hex() == d["eip712_digest"]


@pytest.mark.parametrize("d", DERIVATIONS, ids=DERIVATION_IDS)
def test_our_digest_equals_eth_accounts_generic_encoding(d: dict[str, Any]) -> None:
    signable = encode_typed_data(full_message=onboarding.typed_data(d["eip712_chain_id"]))
    assert signable.header == onboarding.domain_separator(d["eip712_chain_id"])
    assert signable.body == onboarding.struct_hash()
    generic = keccak256(b"\x19" + signable.version + signable.header + signable.body)
    assert generic == onboarding.digest(d["eip712_chain_id"])


@pytest.mark.parametrize("d", DERIVATIONS, ids=DERIVATION_IDS)
def test_onboarding_signature_matches_eth_account_sign_typed_data(d: dict[str, Any]) -> None:
    ours = v4_account.sign_onboarding(_eth_key(d), d["eip712_chain_id"]).reveal()
    assert ours.hex() == d["onboarding_signature"]
    assert ours[:32].hex() == d["onboarding_signature_r"]
    assert ours[32:64].hex() == d["onboarding_signature_s"]
    assert ours[64] == d["onboarding_signature_v"]
    theirs = Account.sign_typed_data(
        d["eth_private_key"], full_message=onboarding.typed_data(d["eip712_chain_id"])
    )
    assert bytes(theirs.signature) == ours
    assert Account.from_key(d["eth_private_key"]).address == d["ethereum_address"]


def test_mainnet_and_testnet_digests_differ_so_accounts_differ() -> None:
    assert onboarding.digest(1) != onboarding.digest(11155111)
    with pytest.raises(InputError):
        onboarding.digest(0)


# --- signature → entropy --------------------------------------------------------------------------------------


CASES = [*((d["name"], d) for d in DERIVATIONS), ("upstream_js_vector", UPSTREAM)]
CASE_IDS = [name for name, _ in CASES]


@pytest.mark.parametrize(("name", "case"), CASES, ids=CASE_IDS)
def test_entropy_is_keccak_of_r_and_s_whatever_the_v_byte(name: str, case: dict[str, Any]) -> None:
    sig = bytes.fromhex(case["onboarding_signature"])
    for v in (0x00, 0x1B, 0x01, 0x1C):
        assert onboarding.entropy_from_signature(sig[:64] + bytes([v])).hex() == case["entropy"]


def test_entropy_is_not_keccak_of_all_65_bytes_nor_of_the_hex_text() -> None:
    sig = bytes.fromhex(UPSTREAM["onboarding_signature"])
    assert keccak256(sig).hex() != UPSTREAM["entropy"]
    assert keccak256(("0x" + sig.hex()).encode()).hex() != UPSTREAM["entropy"]
    assert keccak256(sig[:64]).hex() == UPSTREAM["entropy"]


@pytest.mark.parametrize("length", [0, 64, 66])
def test_signature_of_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(InputError, match="65 bytes"):
        onboarding.entropy_from_signature(bytes(length))


def test_signature_with_a_v_no_wallet_writes_is_refused() -> None:
    sig = bytes.fromhex(UPSTREAM["onboarding_signature"])
    with pytest.raises(InputError, match="v"):
        onboarding.entropy_from_signature(sig[:64] + b"\x02")


# --- entropy → mnemonic → seed → key → addresses --------------------------------------------------------------


@pytest.mark.parametrize(("name", "case"), CASES, ids=CASE_IDS)
def test_account_from_onboarding_signature_matches_every_step(name: str, case: dict[str, Any]) -> None:
    account = v4_account.account_from_onboarding_signature(
        Secret(bytes.fromhex(case["onboarding_signature"]))
    )
    assert account.mnemonic.reveal() == case["mnemonic"]
    assert len(account.mnemonic.reveal().split()) == 24
    assert account.seed.reveal().hex() == case["bip39_seed"]
    assert account.hd_path == case["hd_path"] == onboarding.HD_PATH
    assert account.private_key.reveal().hex() == case["private_key"]
    assert account.public_key.hex() == case["public_key_compressed"]
    uncompressed = coincurve.PublicKey(account.public_key).format(compressed=False)
    assert uncompressed.hex() == case["public_key_uncompressed"]
    assert pubkey_hash160(account.public_key).hex() == case["pubkey_hash160"]
    assert account.address == dydx_address(account.public_key) == case["dydx_address"]
    assert account.noble_address == noble_address(account.public_key) == case["noble_address"]


@pytest.mark.parametrize(("name", "case"), CASES, ids=CASE_IDS)
def test_mnemonic_round_trips_to_the_entropy(name: str, case: dict[str, Any]) -> None:
    entropy = Secret(bytes.fromhex(case["entropy"]))
    assert v4_account.mnemonic_from_entropy(entropy).reveal() == case["mnemonic"]
    from eth_account.hdaccount.mnemonic import Mnemonic

    # BIP-39 words are 11-bit indices: 24 words = 256 bits of entropy + 8 checksum bits.
    words = case["mnemonic"].split()
    bits = "".join(f"{Mnemonic().wordlist.index(w):011b}" for w in words)
    assert int(bits[:256], 2).to_bytes(32, "big").hex() == case["entropy"]
    assert bits[256:] == f"{hashlib.sha256(entropy.reveal()).digest()[0]:08b}"


@pytest.mark.parametrize(("name", "case"), CASES, ids=CASE_IDS)
def test_existing_mnemonic_gives_the_same_account(name: str, case: dict[str, Any]) -> None:
    # A Cosmos wallet's phrase, typed with stray spaces and capitals, names the same account.
    typed = "  " + case["mnemonic"].upper().replace(" ", "   ") + "\n"
    account = v4_account.account_from_mnemonic(Secret(typed))
    assert account.mnemonic.reveal() == case["mnemonic"]
    assert account.address == case["dydx_address"]
    assert same_account(case["dydx_address"], account.public_key)


def test_anvil_zero_addresses_are_the_specs() -> None:
    by_chain = {d["eip712_chain_id"]: d for d in DERIVATIONS if d["source_vector"].startswith("anvil-0")}
    assert by_chain[1]["dydx_address"] == "dydx1a0jkt3046cv5fh2dltyrc2w56ly2t0dal04tlm"
    assert UPSTREAM["dydx_address"] == "dydx1vcdcywwu04ufkkx6e2t6n6ggx4z5xmk34ytq2h"
    assert UPSTREAM["noble_address"] == "noble1vcdcywwu04ufkkx6e2t6n6ggx4z5xmk357svjw"


def test_hot_keys_derive_their_published_public_keys_and_addresses() -> None:
    hot_keys = DATA["hot_keys"]
    assert len(hot_keys) == 2 and hot_keys[0]["private_key"] != hot_keys[1]["private_key"]
    for hot in hot_keys:
        private_key = hashlib.sha256(hot["seed_utf8"].encode()).digest()
        assert private_key.hex() == hot["private_key"]
        public_key = coincurve.PrivateKey(private_key).public_key.format(compressed=True)
        assert public_key.hex() == hot["public_key_compressed"]
        assert dydx_address(public_key) == hot["dydx_address"]
        assert parse_address(hot["dydx_address"]) == pubkey_hash160(public_key)


# --- secrets stay secret ----------------------------------------------------------------------------------------


def test_account_repr_shows_no_secret() -> None:
    account = v4_account.account_from_onboarding_signature(
        Secret(bytes.fromhex(UPSTREAM["onboarding_signature"]))
    )
    text = repr(account) + str(account)
    for secret in (UPSTREAM["mnemonic"], UPSTREAM["private_key"], UPSTREAM["bip39_seed"]):
        assert secret not in text
    assert UPSTREAM["mnemonic"].split()[0] not in text.replace("dydx1", "").replace("noble1", "")
    assert repr(account.private_key.reveal().hex()) not in text
    assert UPSTREAM["dydx_address"] in text  # the public parts stay visible


def test_bad_mnemonic_errors_do_not_quote_the_words() -> None:
    words = UPSTREAM["mnemonic"].split()
    swapped = " ".join([words[1], words[0], *words[2:]])
    with pytest.raises(InputError) as checksum:
        v4_account.account_from_mnemonic(Secret(swapped))
    assert "checksum" in str(checksum.value)
    misspelt = " ".join(["wastex", *words[1:]])
    with pytest.raises(InputError) as unknown:
        v4_account.account_from_mnemonic(Secret(misspelt))
    assert "position 1" in str(unknown.value)
    with pytest.raises(InputError, match="has 23"):
        v4_account.account_from_mnemonic(Secret(" ".join(words[:-1])))
    for exc in (checksum.value, unknown.value):
        assert not any(w in str(exc).split() for w in words)
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def test_abbreviated_words_are_not_expanded() -> None:
    # eth-account's seed_from_mnemonic would expand "wast" to "waste"; a v4 phrase is whole words only.
    words = UPSTREAM["mnemonic"].split()
    with pytest.raises(InputError, match="position 1"):
        v4_account.account_from_mnemonic(Secret(" ".join([words[0][:4], *words[1:]])))


def test_sign_direct_refuses_an_invalid_private_key() -> None:
    for raw in (bytes(32), b"\xff" * 32, bytes(31)):
        with pytest.raises(InputError):
            v4_account.sign_direct(Secret(raw), b"doc")
