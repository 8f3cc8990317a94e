"""Every v4 transaction in the kit's vectors, rebuilt from its request and parsed back from its bytes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from dydx_airgap.offline.keys.v4_account import sign_direct
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4 import protobuf as pb
from dydx_airgap.shared.dydx_v4.address import address_from_pubkey
from dydx_airgap.shared.dydx_v4.networks import network_by_chain_id
from dydx_airgap.shared.dydx_v4.signature import SECP256K1_N, is_valid_direct, verify_direct
from dydx_airgap.shared.dydx_v4.tx import (
    AuthInfo,
    SignDoc,
    TxBody,
    TxRaw,
    broadcast_body,
    parse_tx,
    tx_hash,
)
from dydx_airgap.shared.errors import FormatError, SignatureError
from dydx_airgap.shared.secret import Secret
from tests.dydx_v4_vectors import all_txs, derivation_by_account, request_from_parsed, unsigned_from_request

TXS = all_txs()
IDS = [t["name"] for t in TXS]


def _private_key(tx: dict[str, Any]) -> Secret[bytes]:
    return Secret(bytes.fromhex(derivation_by_account(tx["annotations"]["account"])["private_key"]))


def test_vectors_hold_the_expected_number_of_transactions() -> None:
    # 16 plain cases + 7 authenticator cases; a shrunken file would otherwise pass vacuously.
    assert len(TXS) == 23
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_request_rebuilds_body_auth_info_and_sign_doc_byte_for_byte(tx: dict[str, Any]) -> None:
    unsigned = unsigned_from_request(tx["request"])
    assert unsigned.body_bytes.hex() == tx["body_bytes"]
    assert unsigned.auth_info_bytes.hex() == tx["auth_info_bytes"]
    doc = unsigned.sign_doc()
    assert doc.encode().hex() == tx["sign_doc"]
    assert doc.digest().hex() == tx["sign_doc_sha256"]
    assert hashlib.sha256(bytes.fromhex(tx["sign_doc"])).hexdigest() == tx["sign_doc_sha256"]


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_cold_signature_is_the_reference_signature(tx: dict[str, Any]) -> None:
    signature = sign_direct(_private_key(tx), bytes.fromhex(tx["sign_doc"]))
    assert signature.hex() == tx["signature"]
    assert signature[:32].hex() == tx["signature_r"]
    assert signature[32:].hex() == tx["signature_s"]


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_tx_raw_hash_and_broadcast_body_match(tx: dict[str, Any]) -> None:
    unsigned = unsigned_from_request(tx["request"])
    raw = unsigned.tx_raw(bytes.fromhex(tx["signature"]))
    assert raw.hex() == tx["tx_raw"]
    assert base64.b64encode(raw).decode() == tx["tx_raw_base64"]
    assert tx_hash(raw) == tx["txhash"]
    assert broadcast_body(raw) == tx["broadcast_body"]


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_tx_raw_parses_back_to_the_same_request(tx: dict[str, Any]) -> None:
    request = tx["request"]
    parsed = parse_tx(bytes.fromhex(tx["tx_raw"]))
    assert request_from_parsed(parsed, request["chain_id"], request["account_number"]) == request
    unsigned = unsigned_from_request(request)
    assert parsed.body == unsigned.body
    assert parsed.auth_info == unsigned.auth_info
    assert parsed.sign_doc(request["chain_id"], request["account_number"]) == unsigned.sign_doc()
    assert SignDoc.decode(bytes.fromhex(tx["sign_doc"])) == unsigned.sign_doc()


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_messages_render_as_the_reference_proto3_json(tx: dict[str, Any]) -> None:
    parsed = parse_tx(bytes.fromhex(tx["tx_raw"]))
    assert [msg.to_proto3_json() for msg in parsed.body.messages] == tx["request_messages_proto3_json"]


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_signature_verifies_for_the_signer_and_the_signer_owns_the_messages(tx: dict[str, Any]) -> None:
    request = tx["request"]
    parsed = parse_tx(bytes.fromhex(tx["tx_raw"]))
    doc = parsed.sign_doc(request["chain_id"], request["account_number"]).encode()
    pubkey = parsed.auth_info.signer.public_key
    verify_direct(pubkey, doc, parsed.signature)
    assert address_from_pubkey(pubkey) == request["signer_address"] == parsed.body.signers()[0]
    network = network_by_chain_id(request["chain_id"])
    assert {c.denom for c in parsed.auth_info.fee.amount} <= set(network.fee_denoms)


@pytest.mark.parametrize("tx", TXS, ids=IDS)
def test_signature_is_bound_to_chain_account_number_and_bytes(tx: dict[str, Any]) -> None:
    request = tx["request"]
    parsed = parse_tx(bytes.fromhex(tx["tx_raw"]))
    pubkey = parsed.auth_info.signer.public_key
    other_chain = "dydx-testnet-4" if request["chain_id"] == "dydx-mainnet-1" else "dydx-mainnet-1"
    for doc in (
        parsed.sign_doc(other_chain, request["account_number"]),
        parsed.sign_doc(request["chain_id"], request["account_number"] + 1),
    ):
        assert not is_valid_direct(pubkey, doc.encode(), parsed.signature)
    flipped = bytearray(bytes.fromhex(tx["sign_doc"]))
    flipped[len(flipped) // 2] ^= 1
    assert not is_valid_direct(pubkey, bytes(flipped), parsed.signature)


@pytest.mark.parametrize("tx", TXS[:4], ids=IDS[:4])
def test_high_s_twin_of_a_valid_signature_is_refused(tx: dict[str, Any]) -> None:
    sig = bytes.fromhex(tx["signature"])
    s = int.from_bytes(sig[32:], "big")
    twin = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big")
    with pytest.raises(SignatureError, match="high-s"):
        verify_direct(bytes.fromhex(tx["request"]["signer_pubkey"]), bytes.fromhex(tx["sign_doc"]), twin)


def test_cold_owner_transactions_carry_no_extension_options() -> None:
    for tx in TXS:
        body_fields = {f.number for f in pb.iter_fields(bytes.fromhex(tx["body_bytes"]))}
        assert body_fields <= {1, 2, 3}, tx["name"]


def test_tx_and_tx_raw_serialise_identically() -> None:
    # cosmos.tx.v1beta1.Tx{body=1, auth_info=2, signatures=3} with embedded messages is byte-equal to TxRaw.
    for tx in TXS:
        body, auth = bytes.fromhex(tx["body_bytes"]), bytes.fromhex(tx["auth_info_bytes"])
        as_tx = pb.message_field(1, body) + pb.message_field(2, auth)
        as_tx += pb.message_field(3, bytes.fromhex(tx["signature"]))
        assert as_tx.hex() == tx["tx_raw"]


def test_timeout_height_is_field_3_appended_to_the_body() -> None:
    with_timeout = [t for t in TXS if t["request"]["timeout_height"]]
    assert len(with_timeout) * 2 >= len(TXS) - 7
    for tx in with_timeout:
        body = TxBody.decode(bytes.fromhex(tx["body_bytes"]))
        without = TxBody(body.messages, body.memo, 0).encode()
        assert without + pb.uint_field(3, tx["request"]["timeout_height"]) == bytes.fromhex(tx["body_bytes"])


def test_txhashes_are_distinct() -> None:
    assert len({t["txhash"] for t in TXS}) == len(TXS)


# --- what the strict transaction decoder refuses ------------------------------------------------------------


def _first() -> dict[str, Any]:
    return TXS[0]


def test_body_with_an_extension_option_is_refused() -> None:
    body = bytes.fromhex(_first()["body_bytes"])
    extension = m.ProtoAny("/dydxprotocol.accountplus.TxExtension", b"").encode()
    with pytest.raises(FormatError, match="unknown field 2047"):
        TxBody.decode(body + pb.message_field(2047, extension))


def test_auth_info_with_a_tip_is_refused() -> None:
    auth = bytes.fromhex(_first()["auth_info_bytes"])
    with pytest.raises(FormatError, match="unknown field 3"):
        AuthInfo.decode(auth + pb.message_field(3, b""))


def test_tx_raw_with_two_signatures_or_a_short_one_is_refused() -> None:
    raw = TxRaw.decode(bytes.fromhex(_first()["tx_raw"]))
    doubled = TxRaw(raw.body_bytes, raw.auth_info_bytes, raw.signatures * 2).encode()
    with pytest.raises(FormatError, match="one 64-byte signature"):
        parse_tx(doubled)
    short = TxRaw(raw.body_bytes, raw.auth_info_bytes, (raw.signatures[0][:63],)).encode()
    with pytest.raises(FormatError, match="one 64-byte signature"):
        parse_tx(short)


def test_unsupported_message_type_is_refused_not_skipped() -> None:
    body = TxBody.decode(bytes.fromhex(_first()["body_bytes"]))
    foreign = m.ProtoAny("/dydxprotocol.clob.MsgPlaceOrder", b"\x0a\x00").encode()
    forged = pb.message_field(1, foreign) + body.encode()
    with pytest.raises(FormatError, match="not one this toolkit signs"):
        TxBody.decode(forged)


def test_non_canonical_body_spelling_is_refused() -> None:
    # The memo written explicitly as an empty string: protobuf would read it, we refuse it.
    body = bytes.fromhex(_first()["body_bytes"])
    with pytest.raises(FormatError):
        TxBody.decode(body + b"\x12\x00")
    # A message Any with its fields swapped round: the same message to protobuf, a second spelling to us.
    any_bytes = m.to_any(TxBody.decode(body).messages[0])
    swapped = pb.bytes_field(2, any_bytes.value) + pb.string_field(1, any_bytes.type_url)
    with pytest.raises(FormatError, match="order"):
        TxBody.decode(pb.message_field(1, swapped))


def test_sign_mode_other_than_direct_is_refused() -> None:
    auth = bytes.fromhex(_first()["auth_info_bytes"])
    # mode_info{single{mode=1}} is 12 04 0a 02 08 01; mode 127 (LEGACY_AMINO_JSON) keeps every length.
    direct, amino = bytes.fromhex("12040a020801"), bytes.fromhex("12040a02087f")
    assert auth.count(direct) == 1
    with pytest.raises(FormatError, match="SIGN_MODE_DIRECT"):
        AuthInfo.decode(auth.replace(direct, amino))


def test_signer_info_without_a_public_key_is_refused() -> None:
    auth = AuthInfo.decode(bytes.fromhex(_first()["auth_info_bytes"]))
    info = auth.signer
    no_key = pb.message_field(2, pb.message_field(1, pb.uint_field(1, 1))) + pb.uint_field(3, info.sequence)
    forged = pb.message_field(1, no_key) + pb.message_field(2, auth.fee.encode())
    with pytest.raises(FormatError, match="no public key"):
        AuthInfo.decode(forged)


def test_pubkey_of_another_curve_type_is_refused() -> None:
    auth = bytes.fromhex(_first()["auth_info_bytes"])
    ours = b"/cosmos.crypto.secp256k1.PubKey"
    forged = auth.replace(ours, b"/cosmos.crypto.secp256r1.PubKey")
    assert len(forged) == len(auth) and forged != auth
    with pytest.raises(FormatError, match="not secp256k1"):
        AuthInfo.decode(forged)


# --- spec §B4's own table: cold key = the upstream mnemonic, account 123456, fee 5000 USDC, gas 200000 ---------

SPEC_B4_TXHASHES = {
    7: "22D59F3C2A668F899225EB9E9126AC1A0C15556FE992D5B24699925C10E2F9AF",
    8: "4342C2EDD0B2E39A9874B805B93A3B4803EEA5239E695BCE9208180414A86A88",
    9: "9D3826F81CCBF1855B5DD825DC06DAF0BD3B40F66D2D85029A7915774144042A",
    10: "1896683DAB6F9672D323A44839F0B1A4039F8EB04F7FEC75C503D056B44DBDA2",
    11: "396DDB36D7EF6BDF24254B15CC6840C1E6C472D349B34B99C2379F43FF4BEB6A",
}
SPEC_B4_AUTH_INFO_SEQ7 = (
    "0a500a460a1f2f636f736d6f732e63727970746f2e736563703235366b312e5075624b657912230a2102cc5e2d0753c437c36b"
    "0a23a9201825c1c422d2541a6b5977f0d33fbb22a2c52412040a020801180712520a4c0a446962632f38453237424132443534"
    "39334146353633363736304533353445343630303435363243343641423745433043433443314341313445394532304532353435"
    "423512043530303010c09a0c"
)


def test_spec_b4_table_reproduces_from_its_prose_description() -> None:
    from dydx_airgap.shared.dydx_v4.authenticators import encode_authenticator, trading_key_recipe
    from dydx_airgap.shared.dydx_v4.coins import Coin
    from dydx_airgap.shared.dydx_v4.networks import MAINNET
    from dydx_airgap.shared.dydx_v4.tx import Fee, SignerInfo, UnsignedTx
    from tests.dydx_v4_vectors import v4

    upstream = v4()["upstream_js_vector"]
    owner, pubkey = upstream["dydx_address"], bytes.fromhex(upstream["public_key_compressed"])
    hot = bytes.fromhex("0291d1d9fd23334f3d53c3a5b50b56317d8964692320d73d22d7a0b115d5eb574f")
    kind, data = encode_authenticator(trading_key_recipe(hot))
    sub0, sub1, one_usdc = m.SubaccountId(owner, 0), m.SubaccountId(owner, 1), 1_000_000
    cases: dict[int, m.Message] = {
        7: m.MsgAddAuthenticator(owner, kind, data),
        8: m.MsgWithdrawFromSubaccount(sub0, owner, 0, one_usdc),
        9: m.MsgDepositToSubaccount(owner, sub0, 0, one_usdc),
        10: m.MsgCreateTransfer(m.Transfer(sub0, sub1, 0, one_usdc)),
        11: m.MsgRemoveAuthenticator(owner, 42),
    }
    fee = Fee((Coin(MAINNET.usdc_denom, 5000),), 200_000)
    key = Secret(bytes.fromhex(upstream["private_key"]))
    for sequence, message in cases.items():
        auth_info = AuthInfo((SignerInfo(pubkey, sequence),), fee)
        unsigned = UnsignedTx(TxBody((message,)), auth_info, MAINNET.chain_id, 123456)
        signature = sign_direct(key, unsigned.sign_doc().encode())
        assert tx_hash(unsigned.tx_raw(signature)) == SPEC_B4_TXHASHES[sequence]
        if sequence == 7:
            assert unsigned.auth_info_bytes.hex() == SPEC_B4_AUTH_INFO_SEQ7
            assert unsigned.sign_doc().digest().hex() == (
                "8626d976a223d005c8d61a35f212712b1e2e260ed22f2a2befd117c41b990bd4"
            )
            assert signature.hex().startswith("e1cea7c1") and signature.hex().endswith("0298e8")
