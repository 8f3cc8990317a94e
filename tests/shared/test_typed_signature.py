"""Typed signatures: strict decoding (no high-s, no odd v, known type bytes only) and recovery."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from dydx_airgap.shared.dydx_v3.eip712 import eth_private_action_digest
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature
from dydx_airgap.shared.errors import SignatureError
from dydx_airgap.shared.ethereum.typed_signature import (
    SECP256K1_N,
    SignatureType,
    TypedSignature,
    normalize_raw_signature,
    recover_typed_signer,
)
from tests.conftest import kit_vectors

V = kit_vectors()[0]
ACTION = V["eth_private_actions"][0]
ARGS = (V["network_id"], ACTION["method"], ACTION["request_path"], ACTION["body"], ACTION["timestamp"])


def test_round_trip_and_recovery() -> None:
    sig = TypedSignature.from_hex(ACTION["signature"])
    assert sig.to_hex() == ACTION["signature"]
    assert recover_typed_signer(eth_private_action_digest(*ARGS), sig) == V["ethereum_address"]


def test_high_s_is_refused_not_recovered_to_another_account() -> None:
    sig = TypedSignature.from_hex(ACTION["signature"])
    high = (
        sig.r.to_bytes(32, "big") + (SECP256K1_N - sig.s).to_bytes(32, "big") + bytes([55 - sig.v, 0])
    )  # the malleated twin that eth-account would accept
    with pytest.raises(SignatureError, match="high-s"):
        TypedSignature.from_bytes(high)
    with pytest.raises(SignatureError):
        verify_eth_private_signature(*ARGS, "0x" + high.hex(), V["ethereum_address"])


@pytest.mark.parametrize("v", [0, 1, 2, 26, 29, 37, 38, 255])
def test_other_v_values_are_refused(v: int) -> None:
    raw = bytearray.fromhex(ACTION["signature"][2:])
    raw[64] = v
    with pytest.raises(SignatureError):
        TypedSignature.from_bytes(bytes(raw))


def test_flipped_v_does_not_verify() -> None:
    raw = bytearray.fromhex(ACTION["signature"][2:])
    raw[64] = 55 - raw[64]
    with pytest.raises(SignatureError):
        verify_eth_private_signature(*ARGS, "0x" + raw.hex(), V["ethereum_address"])


@pytest.mark.parametrize("t", [2, 4, 0x10, 0xFF])
def test_wrong_type_byte_is_refused(t: int) -> None:
    raw = bytearray.fromhex(ACTION["signature"][2:])
    raw[65] = t
    with pytest.raises(SignatureError):
        verify_eth_private_signature(*ARGS, "0x" + raw.hex(), V["ethereum_address"])


@pytest.mark.parametrize(
    "text", ["", "0x", "0x00", "0x" + "zz" * 66, "0x" + "00" * 65, "0x" + "11" * 67, "11" * 66]
)
def test_malformed_hex_is_refused(text: str) -> None:
    with pytest.raises(SignatureError):
        TypedSignature.from_hex(text)


def test_zero_r_is_refused() -> None:
    with pytest.raises(SignatureError):
        TypedSignature.from_bytes(bytes(32) + (1).to_bytes(32, "big") + bytes([27, 0]))


def test_decimal_type_signature_verifies() -> None:
    # Type 01: eth_sign over the 32-byte digest (v3-client's default SigningMethod.Hash).
    digest = eth_private_action_digest(*ARGS)
    signed = Account.sign_message(encode_defunct(primitive=digest), V["eth_private_key"])
    typed = "0x" + normalize_raw_signature(bytes(signed.signature)).hex() + "01"
    assert TypedSignature.from_hex(typed).sig_type is SignatureType.DECIMAL
    verify_eth_private_signature(*ARGS, typed, V["ethereum_address"])
    with pytest.raises(SignatureError):  # the same bytes claimed as type 00 recover to someone else
        verify_eth_private_signature(*ARGS, typed[:-2] + "00", V["ethereum_address"])


def test_normalize_raw_signature() -> None:
    raw = bytes.fromhex(ACTION["signature"][2:132])
    assert normalize_raw_signature(raw) == raw
    low = raw[:64] + bytes([raw[64] - 27])
    assert normalize_raw_signature(low) == raw
    with pytest.raises(SignatureError):
        normalize_raw_signature(raw[:64] + bytes([37]))
