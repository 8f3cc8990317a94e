"""BC-UR layer: published reference vectors, strict parsing, fountain decoding, text-frame round trips.

Vectors come from the C++ reference implementation's test suite (tests/data/ur_bcur_vectors.json,
source noted inside); nothing expected here is produced by the code under test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.transport.ur import bytewords, cbor, fountain, frames, ur
from dydx_airgap.shared.transport.ur.bytewords import Style
from dydx_airgap.shared.transport.ur.xoshiro import AliasSampler, Xoshiro256

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "ur_bcur_vectors.json").read_text())


def make_message(length: int, seed: str = "Wolf") -> bytes:
    """The reference suite's test message: Xoshiro256 seeded with SHA-256(seed), next_data(length)."""
    return Xoshiro256.from_seed(seed.encode()).next_data(length)


def stream(seed: bytes, length: int) -> bytes:
    """Deterministic test bytes (SHA-256 in counter mode), independent of the code under test."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


# --- published vectors -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), VECTORS["crc32"])
def test_crc32_vectors(text: str, expected: str) -> None:
    assert bytewords.crc32(text.encode()).to_bytes(4, "big").hex() == expected


@pytest.mark.parametrize("style", list(Style))
def test_bytewords_vector_1(style: Style) -> None:
    vector = VECTORS["bytewords_1"]
    data = bytes(vector["input"])
    assert bytewords.encode(data, style) == vector[style.value]
    assert bytewords.decode(vector[style.value], style) == data
    assert bytewords.decode(vector[style.value].upper(), style) == data
    with pytest.raises(FormatError, match="checksum"):
        bytewords.decode(vector["bad_checksum"][style.value], style)


@pytest.mark.parametrize("text", VECTORS["bytewords_1"]["too_short_standard"])
def test_bytewords_too_short(text: str) -> None:
    with pytest.raises(FormatError):
        bytewords.decode(text, Style.STANDARD)


def test_bytewords_vector_2() -> None:
    vector = VECTORS["bytewords_2"]
    data = bytes(vector["input"])
    assert bytewords.encode(data, Style.STANDARD) == vector["standard"]
    assert bytewords.encode(data, Style.MINIMAL) == vector["minimal"]
    assert bytewords.decode(vector["standard"], Style.STANDARD) == data
    assert bytewords.decode(vector["minimal"], Style.MINIMAL) == data


def test_bytewords_hello_world_example_from_the_ur_paper() -> None:
    vector = VECTORS["hello_world_minimal"]
    assert bytewords.encode(bytes.fromhex(vector["cbor_hex"])) == vector["minimal"]


def test_bytewords_dictionary_properties() -> None:
    # The properties BCR-2020-012 promises and the minimal style depends on.
    assert len(bytewords.WORDS) == 256
    assert len(set(bytewords.WORDS)) == 256
    assert len({w[0] + w[3] for w in bytewords.WORDS}) == 256
    assert len({w[:3] for w in bytewords.WORDS}) == 256
    assert len({w[1:] for w in bytewords.WORDS}) == 256
    assert all(len(w) == 4 and w.isalpha() and w.islower() for w in bytewords.WORDS)


@pytest.mark.parametrize(
    "bad",
    ["aeadaolazojendeot", "aeadaolazojendeotiqq", "xxadaolazojendeoti", "aeadaolazojendeoti\u00e9", ""],
)
def test_bytewords_minimal_rejects_malformed(bad: str) -> None:
    with pytest.raises(FormatError):
        bytewords.decode(bad, Style.MINIMAL)


def test_xoshiro_vectors() -> None:
    rng = Xoshiro256.from_seed(b"Wolf")
    assert [rng.next() % 100 for _ in range(100)] == VECTORS["rng_1_seed_text_Wolf_next_mod_100"]
    rng = Xoshiro256.from_crc32(bytewords.crc32(b"Wolf"))
    assert [rng.next() % 100 for _ in range(100)] == VECTORS["rng_2_seed_crc32_of_Wolf_next_mod_100"]
    rng = Xoshiro256.from_seed(b"Wolf")
    assert [rng.next_int(1, 10) for _ in range(100)] == VECTORS["rng_3_seed_text_Wolf_next_int_1_10"]


def test_xor_vector() -> None:
    vector = VECTORS["xor"]
    rng = Xoshiro256.from_seed(vector["seed_text"].encode())
    data1, data2 = rng.next_data(10), rng.next_data(10)
    assert (data1.hex(), data2.hex()) == (vector["data1"], vector["data2"])
    assert bytes(a ^ b for a, b in zip(data1, data2, strict=True)).hex() == vector["xor"]


def test_random_sampler_vector() -> None:
    vector = VECTORS["random_sampler"]
    sampler = AliasSampler(vector["weights"])
    rng = Xoshiro256.from_seed(vector["seed_text"].encode())
    assert [sampler.next(rng.next_double) for _ in range(500)] == vector["samples"]


def test_shuffle_vector() -> None:
    vector = VECTORS["shuffle"]
    rng = Xoshiro256.from_seed(vector["seed_text"].encode())
    assert [fountain.shuffled(vector["values"], rng) for _ in range(10)] == vector["results"]


@pytest.mark.parametrize(("message_len", "min_len", "max_len", "expected"), VECTORS["find_fragment_length"])
def test_find_fragment_length_vectors(message_len: int, min_len: int, max_len: int, expected: int) -> None:
    assert fountain.find_nominal_fragment_length(message_len, min_len, max_len) == expected


def test_partition_vector() -> None:
    message = make_message(1024)
    fragment_len = fountain.find_nominal_fragment_length(len(message), 10, 100)
    fragments = fountain.partition_message(message, fragment_len)
    assert [f.hex() for f in fragments] == VECTORS["partition_1024_min10_max100"]


def test_choose_degree_vector() -> None:
    degrees = [fountain.choose_degree(11, Xoshiro256.from_seed(f"Wolf-{n}".encode())) for n in range(1, 201)]
    assert degrees == VECTORS["choose_degree_seq_len_11_seed_text_Wolf-N_for_N_1_to_200"]


def test_choose_fragments_vector() -> None:
    message = make_message(1024)
    checksum = bytewords.crc32(message)
    chosen = [sorted(fountain.choose_fragments(n, 11, checksum)) for n in range(1, 31)]
    assert chosen == VECTORS["choose_fragments_1024_min10_max100_seq_1_to_30"]


def test_fountain_encoder_vectors() -> None:
    vector = VECTORS["fountain_encoder_256_max30"]
    encoder = fountain.FountainEncoder(make_message(256), 30)
    parts = [encoder.next_part() for _ in range(20)]
    assert [p.seq_num for p in parts] == list(range(1, 21))
    assert {(p.seq_len, p.message_len, p.checksum) for p in parts} == {
        (vector["seq_len"], vector["message_len"], vector["checksum"])
    }
    assert [p.data.hex() for p in parts] == vector["data"]
    assert [p.to_cbor().hex() for p in parts] == vector["cbor"]
    assert [fountain.Part.from_cbor(bytes.fromhex(h)) for h in vector["cbor"]] == parts


def test_fountain_encoder_is_complete_after_seq_len_parts() -> None:
    encoder = fountain.FountainEncoder(make_message(256), 30)
    emitted = 0
    while not encoder.is_complete:
        encoder.next_part()
        emitted += 1
    assert emitted == encoder.seq_len == VECTORS["fountain_encoder_256_max30"]["seq_len"]


def test_single_part_ur_vector() -> None:
    expected = VECTORS["single_part_ur_bytes_50"]
    message = ur.UR("bytes", cbor.encode_byte_string(make_message(50)))
    assert ur.encode_single_part(message) == expected
    assert ur.UREncoder(message, 1000).next_part() == expected
    frame = ur.parse(expected.upper())
    assert (frame.ur_type, frame.message) == ("bytes", message.cbor)


def test_ur_encoder_vectors() -> None:
    expected = VECTORS["ur_encoder_bytes_256_max30"]
    encoder = ur.UREncoder(ur.UR("bytes", cbor.encode_byte_string(make_message(256))), 30)
    assert [encoder.next_part() for _ in range(20)] == expected


def test_ur_decoder_finishes_from_reference_parts_in_any_order() -> None:
    # Lose pure parts 1-3 and read the rest backwards (mixed parts first), upper case as in a QR code.
    expected = VECTORS["ur_encoder_bytes_256_max30"]
    message = cbor.encode_byte_string(make_message(256))
    decoder = ur.URDecoder()
    for text in reversed(expected[3:]):
        decoder.receive(text.upper())
    assert decoder.is_complete
    assert decoder.result == ur.UR("bytes", message)
    decoder = ur.URDecoder("bytes")
    for text in reversed(expected[:9]):
        decoder.receive(text)
    assert decoder.result.cbor == message


def test_multipart_ur_from_seq_100_like_the_reference() -> None:
    # Reference test_multipart_ur: 32767-byte message, 1000-byte fragments, first part 101 (all mixed).
    message = ur.UR("bytes", cbor.encode_byte_string(make_message(32767)))
    encoder = ur.UREncoder(message, 1000, first_seq_num=100)
    decoder = ur.URDecoder()
    sent = 0
    while not decoder.is_complete:
        decoder.receive(encoder.next_part())
        sent += 1
        assert sent < 5 * encoder.seq_len
    assert decoder.result == message


# --- strict parsing --------------------------------------------------------------------------

_GOOD_MULTI = VECTORS["ur_encoder_bytes_256_max30"][0]


def _with_body(body: bytes, seq: str = "1-9") -> str:
    return f"ur:bytes/{seq}/{bytewords.encode(body)}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://example.com/ur:bytes/aeadaolazojendeoti", "start with 'ur:'"),
        ("ur:", "invalid type"),
        ("ur:by_tes/aeadaolazojendeoti", "invalid type"),
        ("ur:bytes", "wrong number"),
        ("ur:bytes/1-9/x/y", "wrong number"),
        (_GOOD_MULTI.replace("/1-9/", "/0-9/"), "sequence component"),
        (_GOOD_MULTI.replace("/1-9/", "/01-9/"), "sequence component"),
        (_GOOD_MULTI.replace("/1-9/", "/1-9-9/"), "sequence component"),
        (_GOOD_MULTI.replace("/1-9/", "/2-9/"), "disagrees"),
        (_GOOD_MULTI[:-2], "checksum"),
        (_GOOD_MULTI[:-1], "odd number"),
        ("ur:bytes/" + "ae" * 200_000, "too long"),
        ("ur:bytes/aeadaolazojendeoti\u212a", "non-ASCII"),
        # CBOR-level damage, each with a valid Bytewords checksum so the CBOR reader is reached:
        (_with_body(bytes.fromhex("84010919010001")), "array of 5"),
        (_with_body(bytes.fromhex("85180109190100") + bytes(4) + b"\x41\x00"), "shortest form"),
        (_with_body(bytes.fromhex("9f01091901001a0167aa074100ff")), "indefinite"),
        (_with_body(bytes.fromhex("8501091901001a0167aa07581d") + bytes(29) + b"\x00"), "trailing"),
        (_with_body(bytes.fromhex("8501091901001a0167aa07581d") + bytes(20)), "truncated"),
        (_with_body(bytes.fromhex("8501081901001a0167aa07581d") + bytes(29), "1-8"), "sequence length"),
        (_with_body(bytes.fromhex("8501011a000200001a0167aa075a00020000"), "1-1"), "larger than"),
        (_with_body(bytes.fromhex("8500091901001a0167aa07581d") + bytes(29), "1-9"), "sequence"),
        # 65541 one-byte fragments: consistent, but past the fragment-count bound
        (_with_body(bytes.fromhex("85011a000100051a00010005004100"), "1-65541"), "larger than 8192"),
    ],
)
def test_parse_rejects_malformed_frames(text: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason) as info:
        ur.parse(text)
    assert "\n" not in str(info.value)


def test_cbor_reader_is_strict_and_bounded() -> None:
    assert cbor.decode_byte_string(bytes.fromhex("43616263"), 3) == b"abc"
    for bad, limit in [
        ("44616263", 10),
        ("43616263", 2),
        ("5803616263", 10),
        ("4361626300", 10),
        ("6161", 10),
    ]:
        with pytest.raises(FormatError):
            cbor.decode_byte_string(bytes.fromhex(bad), limit)
    for value in (0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32):
        reader = cbor.CborReader(cbor.encode_uint(value))
        assert reader.read_uint(2**64 - 1) == value
        reader.finish()


def test_decoder_refuses_parts_of_another_message() -> None:
    first = fountain.FountainEncoder(make_message(256), 30)
    other = fountain.FountainEncoder(make_message(256, "Other"), 30)
    decoder = fountain.FountainDecoder()
    assert decoder.receive(first.next_part())
    with pytest.raises(FormatError, match="different message") as info:
        decoder.receive(other.next_part())
    assert "checksum" in info.value.message
    # a different fragment length of the same message is refused too: its parts cannot be combined
    with pytest.raises(FormatError, match="different message"):
        decoder.receive(fountain.FountainEncoder(make_message(256), 40).next_part())


def test_decoder_ignores_duplicates_and_detects_contradictions() -> None:
    encoder = fountain.FountainEncoder(make_message(256), 30)
    parts = [encoder.next_part() for _ in range(12)]
    decoder = fountain.FountainDecoder()
    assert decoder.receive(parts[0])
    assert not decoder.receive(parts[0])
    forged = fountain.Part(1, parts[0].seq_len, 256, parts[0].checksum, bytes(len(parts[0].data)))
    with pytest.raises(FormatError, match="contradicts"):
        decoder.receive(forged)


def test_decoder_rejects_reassembly_with_a_bad_checksum() -> None:
    encoder = fountain.FountainEncoder(make_message(256), 30)
    parts = [encoder.next_part() for _ in range(9)]
    tampered = [
        fountain.Part(p.seq_num, p.seq_len, p.message_len, p.checksum, bytes([p.data[0] ^ 1]) + p.data[1:])
        if p.seq_num == 3
        else p
        for p in parts
    ]
    decoder = fountain.FountainDecoder()
    for part in tampered[:-1]:
        decoder.receive(part)
    with pytest.raises(FormatError, match="checksum"):
        decoder.receive(tampered[-1])


# --- payload frames (the API the CLIs use) ---------------------------------------------------


def test_small_payload_is_one_upper_case_frame() -> None:
    payload = stream(b"small", 997)  # + 3 bytes of CBOR head = the 1000-byte frame limit
    out = frames.encode_frames(payload)
    assert len(out) == 1
    assert out[0].startswith("UR:X-DYDX-AIRGAP/")
    assert set(out[0]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert frames.decode_frames(out) == payload
    assert frames.decode_frames([out[0].lower()]) == payload


def test_multi_frame_payload_has_pure_then_mixed_frames() -> None:
    payload = stream(b"8k", 8 * 1024)
    out = frames.encode_frames(payload, extra_ratio=0.5)
    seq_len = 9  # 8195 CBOR bytes in fragments of at most 1000 bytes
    assert len(out) == seq_len + 5
    sequence = [t.split("/")[1].split("-") for t in out]
    assert {total for _, total in sequence} == {str(seq_len)}
    numbers = [int(n) for n, _ in sequence]
    assert numbers[:seq_len] == list(range(1, seq_len + 1))
    assert numbers[seq_len:] == sorted(numbers[seq_len:])
    assert numbers[seq_len] > seq_len
    # the mixed frames each combine several fragments (single-fragment repeats are skipped)
    assert all(len(ur.parse(t).part.indexes) >= 2 for t in out[seq_len:])  # type: ignore[union-attr]
    assert frames.decode_frames(reversed(out)) == payload
    assert frames.decode_frames(out[:seq_len]) == payload


def test_maximum_payload_round_trip_and_cap() -> None:
    payload = stream(b"max", frames.MAX_PAYLOAD_LEN)
    out = frames.encode_frames(payload, extra_ratio=0)
    assert frames.decode_frames(out) == payload
    with pytest.raises(InputError, match="at most 65536"):
        frames.encode_frames(payload + b"x")


def test_assembler_reports_foreign_mixed_corrupt_and_incomplete_input() -> None:
    one = frames.encode_frames(stream(b"one", 3000))
    two = frames.encode_frames(stream(b"two", 3000))
    with pytest.raises(FormatError, match=r"not x-dydx-airgap frames.*https://example\.com"):
        frames.decode_frames(["https://example.com/login", "hello world", "UR:BYTES/AEADAOLAZOJENDEOTI"])
    with pytest.raises(FormatError, match="no QR frame"):
        frames.decode_frames([])
    with pytest.raises(FormatError, match="different message"):
        frames.decode_frames([one[0], two[1]])
    with pytest.raises(FormatError, match="1 of 4 fragments"):
        frames.decode_frames([one[0], one[0].lower(), "https://example.com"])
    corrupt = one[1][:-6] + ("AE" if one[1][-6:-4] != "AE" else "AD") + one[1][-4:]
    with pytest.raises(FormatError, match="checksum"):
        frames.decode_frames([one[0], corrupt])
    lenient = frames.Assembler(strict=False)
    assert not lenient.add(corrupt)
    assert lenient.rejected_count == 1
    for text in one:
        lenient.add(text)
    assert lenient.result() == stream(b"one", 3000)
    bad_only = frames.Assembler(strict=False)
    bad_only.add(corrupt)
    with pytest.raises(FormatError, match="no readable x-dydx-airgap frame: Bytewords checksum"):
        bad_only.result()


def test_single_part_and_multi_part_frames_of_different_messages_conflict() -> None:
    small = frames.encode_frames(b"tiny payload")
    big = frames.encode_frames(stream(b"big", 5000))
    with pytest.raises(FormatError, match="different message"):
        frames.decode_frames([big[0], small[0]])
    assembler = frames.Assembler()
    assembler.add(small[0])
    with pytest.raises(FormatError, match="different message"):
        assembler.add(big[0])


def test_envelope_must_be_one_byte_string() -> None:
    # A well-formed UR of our type whose message is not a CBOR byte string is refused.
    text = ur.to_qr_text(ur.encode_single_part(ur.UR("x-dydx-airgap", cbor.encode_uint(7))))
    with pytest.raises(FormatError, match="envelope"):
        frames.decode_frames([text])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # sizes spread evenly up to 2500 bytes, so most examples are multi-frame
    payload=st.integers(min_value=0, max_value=2500).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    max_fragment_len=st.integers(min_value=16, max_value=1200),
    order_seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_round_trip_any_payload_any_order(payload: bytes, max_fragment_len: int, order_seed: int) -> None:
    out = frames.encode_frames(payload, max_fragment_len, extra_ratio=0.25)
    # Shuffle deterministically and repeat a frame: order and duplicates must not matter.
    keyed = sorted(out, key=lambda t: hashlib.sha256(order_seed.to_bytes(4, "big") + t.encode()).digest())
    assert frames.decode_frames(keyed + keyed[:1]) == payload


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(min_size=200, max_size=3000), drop_seed=st.binary(min_size=8, max_size=8))
def test_lost_frames_are_recovered_from_later_mixed_frames(payload: bytes, drop_seed: bytes) -> None:
    message = ur.UR("x-dydx-airgap", cbor.encode_byte_string(payload))
    encoder = ur.UREncoder(message, 60)
    decoder = ur.URDecoder("x-dydx-airgap")
    sent = 0
    while not decoder.is_complete:
        text = encoder.next_part()
        sent += 1
        # drop about 40% of the stream, chosen by a hash of the frame
        if hashlib.sha256(drop_seed + text.encode()).digest()[0] >= 102:
            decoder.receive(text)
        assert sent < 20 * encoder.seq_len + 50
    assert cbor.decode_byte_string(decoder.result.cbor, frames.MAX_PAYLOAD_LEN) == payload
