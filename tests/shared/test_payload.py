"""The payload envelope: canonical bytes, strict decoding, round trips."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.transport.payload import (
    MAX_PAYLOAD_BYTES,
    decode_payload,
    new_payload,
    new_payload_and_bytes,
    rebuild_validated_payload,
    seal_of,
)
from tests.conftest import kit_vectors, origin_signer_for

ADDRESS = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
SIGNER = origin_signer_for(kit_vectors()[4]["eth_private_key"])
HEX64 = "0x" + "ab" * 32


def public_body(account: int = 0) -> dict:
    return {
        "account": account,
        "derivation_path": "m/44'/60'/0'/0/0",
        "stark_public_key": HEX64,
        "stark_public_key_y": HEX64,
        "key_variant": "web-app",
        "api_key": "50fdcaa0-62b8-e827-02e8-a9520d46cb9f",
    }


def sample() -> bytes:
    return new_payload("public-key", 1, ADDRESS, public_body(), signer=SIGNER).to_bytes()


def mutate(data: bytes, change) -> bytes:
    value = json.loads(data)
    change(value)
    return canonical_dumps(value)


def test_round_trip_is_byte_exact() -> None:
    data = sample()
    payload = decode_payload(data)
    assert payload.to_bytes() == data
    assert payload.kind == "public-key" and payload.address == ADDRESS
    assert len(payload.fingerprint) == 9 and payload.fingerprint[4] == "-"


@settings(max_examples=1000, deadline=None)
@given(
    account=st.integers(0, 2**31 - 1),
    network=st.sampled_from([1, 3, 5, 11155111]),
    key=st.binary(min_size=32, max_size=32),
    server=st.text(max_size=100),
    seconds=st.integers(1, 10**6),
)
def test_property_round_trip(account: int, network: int, key: bytes, server: str, seconds: int) -> None:
    body = public_body(account) | {"stark_public_key": "0x" + key.hex()}
    p = new_payload(
        "public-key", network, ADDRESS, body, expires_in=timedelta(seconds=seconds), signer=SIGNER
    )
    assert decode_payload(p.to_bytes()) == p
    t = new_payload(
        "time", network, None, {"server_time": p.created, "relay_time": p.created, "source": server}
    )
    assert decode_payload(t.to_bytes()).to_bytes() == t.to_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf" + sample(), "byte-order mark"),
        (sample() + b" ", "canonical"),
        (sample() + b"{}", "not valid JSON"),
        (sample().replace(b'"account":0', b'"account":0.0'), "floats"),
        (sample().replace(b'"account":0', b'"account":NaN'), "NaN"),
        (sample().replace(b'"account":0', b'"account":0,"account":0'), "duplicate"),
        (b"\xff\xfe", "UTF-8"),
        (b"[]", "JSON object"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "limit"),
    ],
)
def test_strict_decoding_rejects(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_payload(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.update(format="dydx-airgap/2"), "unsupported payload format"),
        (lambda v: v.update(kind="sign-anything"), "unknown payload kind"),
        (lambda v: v.update(extra=1), "unknown field"),
        (lambda v: v.pop("answers"), "lacks field"),
        (lambda v: v.update(network_id=7), "unknown network"),
        (lambda v: v.update(address=ADDRESS.lower().replace("0x90f8", "0x90F8")), "checksum"),
        (lambda v: v["body"].update(extra="x"), "unknown field"),
        (lambda v: v["body"].update(stark_public_key="0x12"), "wrong format"),
        (lambda v: v["body"].update(account=-1), "integer"),
        (lambda v: v.update(id="not-an-id"), "id"),
        (lambda v: v.update(created="2021-01-08 10:06:12"), "timestamp"),
        (lambda v: v.update(expires="2000-01-01T00:00:00.000Z"), "expires before"),
    ],
)
def test_schema_rejects(change, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_payload(mutate(sample(), change))


def test_non_canonical_key_order_is_rejected() -> None:
    value = json.loads(sample())
    text = json.dumps(dict(reversed(list(value.items()))), separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(FormatError, match="canonical"):
        decode_payload(text.encode())


def test_eth_private_request_paths_are_allow_listed() -> None:
    rung = {"timestamp": "2026-01-01T00:00:00.000Z", "signature": "0x" + "11" * 66}
    body = {
        "action": "api-key-delete",
        "method": "DELETE",
        "request_path": "/v3/api-keys?apiKey=50fdcaa0-62b8-e827-02e8-a9520d46cb9f",
        "body": "{}",
        "rungs": [rung],
        "valid_from": "2026-01-01T00:00:00.000Z",
        "valid_until": "2026-01-01T00:00:30.000Z",
    }
    assert (
        new_payload("eth-private-request", 1, ADDRESS, body, signer=SIGNER).body["action"] == "api-key-delete"
    )
    for path in (
        "/v3/api-keys?apiKey=x",
        "/v3/orders",
        "/v3/api-keys?apiKey=50fdcaa0-62b8-e827-02e8-a9520d46cb9f&x=1",
    ):
        with pytest.raises(FormatError, match="not allowed"):
            new_payload("eth-private-request", 1, ADDRESS, body | {"request_path": path}, signer=SIGNER)
    with pytest.raises(FormatError, match="not allowed"):
        new_payload("eth-private-request", 1, ADDRESS, body | {"method": "POST"}, signer=SIGNER)


def reseal(value: dict) -> bytes:
    unsealed = {k: v for k, v in value.items() if k != "seal"}
    return canonical_dumps({**unsealed, "seal": seal_of(unsealed)})


def test_a_swapped_stark_key_is_caught_even_when_resealed() -> None:
    # dYdX's onboarding signature does not cover the STARK key; the origin signature does.
    value = json.loads(sample())
    value["body"]["stark_public_key"] = "0x" + "cd" * 32
    with pytest.raises(FormatError, match="origin signature"):
        decode_payload(reseal(value))


def test_origin_signature_is_required_and_must_be_the_address_key() -> None:
    value = json.loads(sample())
    value["origin"] = None
    with pytest.raises(FormatError, match="origin signature"):
        decode_payload(reseal(value))
    other = origin_signer_for(kit_vectors()[0]["eth_private_key"])
    with pytest.raises(FormatError, match="origin signature"):
        new_payload("public-key", 1, ADDRESS, public_body(), signer=other)
    with pytest.raises(FormatError, match="must be signed"):
        new_payload("public-key", 1, ADDRESS, public_body())
    with pytest.raises(FormatError, match="no origin signature"):
        new_payload(
            "time",
            1,
            None,
            {
                "server_time": "2026-01-01T00:00:00.000Z",
                "relay_time": "2026-01-01T00:00:00.000Z",
                "source": "x",
            },
            signer=SIGNER,
        )


def test_a_validated_payload_is_rebuilt_exactly_and_anything_else_is_refused() -> None:
    """What a batch worker sends its parent: the decoder's bytes, rebuilt without a second validation."""
    payload, data = new_payload_and_bytes(
        "time",
        1,
        None,
        {"server_time": "2026-01-01T00:00:00.000Z", "relay_time": "2026-01-01T00:00:00.000Z", "source": "x"},
    )
    assert data == payload.to_bytes()
    rebuilt = rebuild_validated_payload(data)
    assert rebuilt == decode_payload(data) == payload
    value = json.loads(data)
    altered = dict(value, id="0" * 32)  # a field changed, the seal left as it was
    resealed = dict(altered, seal=seal_of({k: v for k, v in altered.items() if k != "seal"}))
    for bad in (
        canonical_dumps(altered),
        data.replace(b'"kind"', b' "kind"'),  # not canonical
        canonical_dumps({k: v for k, v in value.items() if k != "origin"}),  # a field missing
        data[:-1],
    ):
        with pytest.raises(FormatError):
            rebuild_validated_payload(bad)
    assert rebuild_validated_payload(canonical_dumps(resealed)).id == "0" * 32  # sealed again: consistent
