"""BIP-173 bech32 against the BIP's own test vectors, and the dydx/noble address rules built on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dydx_airgap.shared.dydx_v4 import bech32
from dydx_airgap.shared.dydx_v4.address import (
    address_from_hash,
    check_compressed_pubkey,
    is_address,
    parse_address,
)
from dydx_airgap.shared.errors import FormatError, InputError
from tests.dydx_v4_vectors import v4

# BIP-173 "Test vectors": valid bech32 strings.
VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

# BIP-173 invalid bech32 strings, with the reason the BIP gives.
INVALID_BECH32 = [
    ("\x201nwldj5", "HRP character out of range"),
    ("\x7f1axkwrx", "HRP character out of range"),
    ("\x801eym55h", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "no separator character"),
    ("1pzry9x0s0muk", "empty HRP"),
    ("x1b4n0q5v", "invalid data character"),
    ("li1dgmt3", "too short checksum"),
    ("de1lg7wt\xff", "invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]

# BIP-173 valid segwit addresses and their scriptPubKeys (witness version 0: the 5→8 regrouping is exact).
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
]

# BIP-173 invalid segwit addresses that fail at the bech32 layer (the others fail at segwit-specific rules).
INVALID_SEGWIT_AT_BECH32_LAYER = [
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "mixed case"),
    ("tb1pw508d6qejxtdg4y5r3zarqfsj6c3", "more padding"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "non-zero padding"),
]


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bip173_valid_strings_decode_and_re_encode(text: str) -> None:
    hrp, values = bech32.decode_5bit(text)
    assert bech32.encode_5bit(hrp, values) == text.lower()


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bip173_valid_strings_fail_after_any_one_character_changes(text: str) -> None:
    sep = text.rfind("1")
    for i in range(sep + 1, len(text)):
        char = text[i].lower()
        replacement = bech32.CHARSET[(bech32.CHARSET.index(char) + 1) % 32]
        altered = text[:i] + (replacement.upper() if text.isupper() else replacement) + text[i + 1 :]
        with pytest.raises(FormatError, match="checksum"):
            bech32.decode_5bit(altered)


@pytest.mark.parametrize(("text", "reason"), INVALID_BECH32, ids=[r for _, r in INVALID_BECH32])
def test_bip173_invalid_strings_are_refused(text: str, reason: str) -> None:
    with pytest.raises(FormatError):
        bech32.decode_5bit(text)


def _segwit_decode(text: str) -> bytes:
    _, values = bech32.decode_5bit(text)
    if not values:
        raise FormatError("empty data section")
    program = bytes(bech32.convert_bits(values[1:], 5, 8, pad=False))
    version = values[0]
    return bytes([version + 0x50 if version else 0, len(program)]) + program


@pytest.mark.parametrize(("text", "script"), VALID_SEGWIT)
def test_bip173_segwit_programs_regroup_exactly(text: str, script: str) -> None:
    assert _segwit_decode(text).hex() == script
    hrp, values = bech32.decode_5bit(text)
    program = bytes.fromhex(script)[2:]
    assert bech32.encode_5bit(hrp, [values[0], *bech32.convert_bits(program, 8, 5, pad=True)]) == text.lower()


@pytest.mark.parametrize(("text", "fragment"), INVALID_SEGWIT_AT_BECH32_LAYER)
def test_bip173_invalid_segwit_addresses_fail_in_bech32_or_regrouping(text: str, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        _segwit_decode(text)


# "dydx" + "1" + 6 checksum characters leave BIP-173's 90 for 79 data characters: 49 bytes (392 bits).
LONGEST_DYDX_PAYLOAD = 49


@given(st.binary(max_size=LONGEST_DYDX_PAYLOAD))
def test_any_payload_that_fits_round_trips(payload: bytes) -> None:
    text = bech32.encode("dydx", payload)
    assert bech32.decode(text, "dydx") == ("dydx", payload)


def test_the_longest_payload_fits_exactly_and_one_byte_more_is_refused() -> None:
    assert len(bech32.encode("dydx", bytes(LONGEST_DYDX_PAYLOAD))) == 90
    with pytest.raises(InputError, match="91 characters, over the 90 limit"):
        bech32.encode("dydx", bytes(LONGEST_DYDX_PAYLOAD + 1))


def test_bech32m_checksum_is_not_accepted() -> None:
    # BIP-350's valid "a1lqfn3a" (bech32m) must not pass as bech32: the constants differ on purpose.
    with pytest.raises(FormatError, match="checksum"):
        bech32.decode_5bit("a1lqfn3a")


def test_encoder_refuses_what_the_decoder_would_refuse() -> None:
    with pytest.raises(InputError, match="lowercase"):
        bech32.encode("DYDX", bytes(20))
    with pytest.raises(InputError, match="limit"):
        bech32.encode("dydx", bytes(60))
    with pytest.raises(InputError, match="printable"):
        bech32.encode("dy dx", bytes(20))


# --- addresses ----------------------------------------------------------------------------------------------

DATA = v4()
UPSTREAM = DATA["upstream_js_vector"]


def test_vector_addresses_parse_to_their_hash160_under_each_prefix() -> None:
    for case in [UPSTREAM, *DATA["derivations"]]:
        assert parse_address(case["dydx_address"]).hex() == case["pubkey_hash160"]
        assert parse_address(case["noble_address"], "noble").hex() == case["pubkey_hash160"]
        assert address_from_hash(bytes.fromhex(case["pubkey_hash160"])) == case["dydx_address"]


def test_address_of_another_prefix_or_case_or_checksum_is_refused() -> None:
    dydx, noble = UPSTREAM["dydx_address"], UPSTREAM["noble_address"]
    assert is_address(dydx) and not is_address(noble) and is_address(noble, "noble")
    with pytest.raises(FormatError, match="prefix"):
        parse_address(noble)
    with pytest.raises(FormatError, match="lowercase"):
        parse_address(dydx.upper())
    with pytest.raises(FormatError, match="checksum"):
        parse_address(dydx[:-1] + ("q" if dydx[-1] != "q" else "p"))
    assert not is_address(None)


def test_address_with_a_payload_of_odd_length_is_refused() -> None:
    with pytest.raises(FormatError, match="not 20 or 32"):
        parse_address(bech32.encode("dydx", bytes(21)))
    assert parse_address(bech32.encode("dydx", bytes(32))) == bytes(32)


def test_public_key_must_be_a_compressed_curve_point() -> None:
    good = bytes.fromhex(UPSTREAM["public_key_compressed"])
    assert check_compressed_pubkey(good) == good
    with pytest.raises(InputError, match="33 bytes"):
        check_compressed_pubkey(bytes.fromhex(UPSTREAM["public_key_uncompressed"]))
    with pytest.raises(InputError, match="02 or 03"):
        check_compressed_pubkey(b"\x04" + good[1:])
    # x = 5 has no point on secp256k1 (5**3 + 7 = 132 is not a square mod p).
    with pytest.raises(InputError, match="not a point"):
        check_compressed_pubkey(b"\x02" + (5).to_bytes(32, "big"))
