"""The strict protobuf decoder: each refusal is shown on a minimal input next to the accepted form, and the
encoder's varints agree with the wire format's definition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4 import protobuf as pb
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.errors import FormatError, InputError

SCHEMA: pb.Schema = {
    1: pb.FieldSpec(pb.Kind.STRING, name="s"),
    2: pb.FieldSpec(pb.Kind.UINT64, name="n"),
    3: pb.FieldSpec(pb.Kind.UINT32, name="small"),
    4: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="items"),
}
GOOD = b"\x0a\x02hi" + b"\x10\x96\x01" + b"\x18\x05" + b"\x22\x00" + b"\x22\x01\x41"


def test_the_reference_message_decodes() -> None:
    fields = pb.decode_message(GOOD, SCHEMA, "T")
    assert (fields.string(1), fields.uint(2), fields.uint(3)) == ("hi", 150, 5)
    assert fields.repeated_bytes(4) == [b"", b"A"]


@given(st.integers(min_value=0, max_value=pb.UINT64_MAX))
def test_varints_round_trip_and_are_minimal(value: int) -> None:
    encoded = pb.encode_varint(value)
    assert len(encoded) == max(1, (value.bit_length() + 6) // 7)
    (field,) = pb.iter_fields(b"\x08" + encoded)
    assert field.value == value


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x10\x96\x81\x00", "non-canonical varint"),  # 150 padded with a zero group
        (b"\x10\x80\x00", "non-canonical varint"),  # 0 in two bytes
        (b"\x10\x96", "truncated varint"),
        (b"\x10" + b"\xff" * 9 + b"\x02", "larger than 64 bits"),
        (b"\x10" + b"\x80" * 10 + b"\x01", "longer than 10 bytes"),
        (b"\x0a\x05hi", "claims 5 bytes"),
        (b"\x0a", "truncated varint"),
        (b"\x15\x00\x00\x00", "truncated fixed32"),
        (b"\x11" + bytes(8), "wire type 1"),  # field 2 as fixed64
        (b"\x0b", "wire type 3"),  # a group
        (b"\x00", "field number 0"),
    ],
)
def test_tokenizer_refuses_malformed_wire_data(data: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        list(pb.iter_fields(data))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (GOOD + b"\x28\x01", "unknown field 5"),
        (b"\x0a\x02hi\x0a\x02ho", "more than once"),
        (b"\x10\x01\x0a\x02hi", "order"),
        (b"\x22\x00\x10\x01", "order"),
        (b"\x12\x02hi", "wire type 2"),  # n (uint64) sent as bytes
        (b"\x15\x01\x00\x00\x00", "wire type 5"),  # n (uint64) sent as a fixed32
        (b"\x08\x01", "wire type 0"),  # s (string) sent as a varint
        (b"\x18\x80\x80\x80\x80\x10", "32 bits"),
        (b"\x0a\x02\xff\xfe", "UTF-8"),
        (b"\x10\x00", "default value 0"),
        (b"\x0a\x00", r"default \(empty\) value"),
    ],
)
def test_schema_decoder_refuses_what_protobuf_would_accept(data: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        pb.decode_message(data, SCHEMA, "T")


def test_fixed32_and_packed_uint64_round_trip_in_their_one_canonical_form() -> None:
    assert pb.fixed32_field(2, 0) == b""
    encoded = pb.fixed32_field(2, 0xDEADBEEF)
    (field,) = pb.iter_fields(encoded)
    assert (field.number, field.wire_type, field.value) == (2, pb.WireType.I32, 0xDEADBEEF)
    packed = pb.packed_uint64_field(1, (0, 300, pb.UINT64_MAX))
    (raw,) = pb.iter_fields(packed)
    assert isinstance(raw.value, bytes)
    assert pb.decode_packed_uint64(raw.value, "T") == (0, 300, pb.UINT64_MAX)
    with pytest.raises(FormatError, match="non-canonical"):
        pb.decode_packed_uint64(b"\x80\x00", "T")


def test_unknown_fields_pass_only_when_the_caller_allows_them() -> None:
    fields = pb.decode_message(GOOD + b"\x28\x01", SCHEMA, "T", allow_unknown=True)
    assert fields.uint(2) == 150 and not fields.has(5)


def test_encoder_omits_defaults_but_keeps_set_messages() -> None:
    assert pb.uint_field(1, 0) == b"" and pb.string_field(1, "") == b"" and pb.bytes_field(1, b"") == b""
    assert pb.message_field(1, b"") == b"\x0a\x00"
    with pytest.raises(InputError):
        pb.uint_field(1, 2**32, bits=32)
    with pytest.raises(InputError):
        pb.encode_varint(-1)
    with pytest.raises(InputError):
        pb.uint_field(1, True)


# --- message-level strictness -------------------------------------------------------------------------------


ADDRESS = "dydx1a0jkt3046cv5fh2dltyrc2w56ly2t0dal04tlm"


def test_every_message_kind_round_trips_through_any() -> None:
    sub0, sub1 = m.SubaccountId(ADDRESS, 0), m.SubaccountId(ADDRESS, 1)
    samples: list[m.Message] = [
        m.MsgAddAuthenticator(ADDRESS, "SignatureVerification", bytes(33)),
        m.MsgRemoveAuthenticator(ADDRESS, 0),
        m.MsgDepositToSubaccount(ADDRESS, sub0, 0, 1),
        m.MsgWithdrawFromSubaccount(sub0, ADDRESS, 0, 2**64 - 1),
        m.MsgCreateTransfer(m.Transfer(sub0, sub1, 0, 7)),
        m.MsgSend(ADDRESS, ADDRESS, (Coin("adydx", 1), Coin("ibc/ABC", 2))),
    ]
    assert {type(s).TYPE_URL for s in samples} == m.SUPPORTED_TYPE_URLS
    for sample in samples:
        wrapped = m.ProtoAny.decode(m.to_any(sample).encode())
        assert m.from_any(wrapped) == sample
        assert sample.signer == ADDRESS


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: m.MsgDepositToSubaccount(ADDRESS, m.SubaccountId(ADDRESS, 0), 1, 5), "only USDC"),
        (lambda: m.MsgDepositToSubaccount(ADDRESS, m.SubaccountId(ADDRESS, 0), 0, 0), "greater than zero"),
        (lambda: m.SubaccountId(ADDRESS, 128_001), "above 128000"),
        (lambda: m.SubaccountId(ADDRESS.upper(), 0), "lowercase"),
        (lambda: m.MsgAddAuthenticator(ADDRESS, "AllOf", bytes(1025)), "over 1024"),
        (lambda: m.MsgSend(ADDRESS, ADDRESS, ()), "at least one coin"),
        (lambda: m.MsgSend(ADDRESS, ADDRESS, (Coin("ibc/B", 1), Coin("adydx", 1))), "sorted"),
        (lambda: m.MsgSend(ADDRESS, ADDRESS, (Coin("adydx", 1), Coin("adydx", 1))), "sorted"),
        (lambda: m.MsgSend(ADDRESS, ADDRESS, (Coin("adydx", 0),)), "zero amount"),
        (lambda: Coin("a", 1), "denomination"),
        (lambda: Coin("adydx", 2**256), "2\\*\\*256"),
    ],
)
def test_messages_refuse_what_the_chain_would_refuse(build: object, fragment: str) -> None:
    assert callable(build)
    with pytest.raises(InputError, match=fragment):
        build()


def test_decoded_message_that_breaks_a_chain_rule_is_a_format_error() -> None:
    valid = m.MsgDepositToSubaccount(ADDRESS, m.SubaccountId(ADDRESS, 0), 0, 5).encode()
    assert valid.endswith(b"\x20\x05")
    with pytest.raises(FormatError, match="greater than zero"):
        m.MsgDepositToSubaccount.decode(valid[:-2])
    with pytest.raises(FormatError, match="only USDC"):
        m.MsgDepositToSubaccount.decode(valid[:-2] + b"\x18\x01\x20\x05")


def test_coin_amount_must_be_a_canonical_decimal() -> None:
    assert Coin.decode(Coin("adydx", 5).encode()) == Coin("adydx", 5)
    for text in (b"05", b"+5", b"5.0", b" 5", b"-1"):
        with pytest.raises(FormatError, match="canonical decimal"):
            Coin.decode(pb.string_field(1, "adydx") + pb.bytes_field(2, text))


def test_missing_embedded_message_is_refused() -> None:
    with pytest.raises(FormatError, match="recipient is missing"):
        m.MsgDepositToSubaccount.decode(pb.string_field(1, ADDRESS) + pb.uint_field(4, 5))
