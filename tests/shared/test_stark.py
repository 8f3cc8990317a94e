"""dydx_airgap.shared.stark against cairo-lang's frozen outcomes, the spec's known answers and properties.

tests/data/stark_cases.json was written by tests/crosscheck/cairo_crosscheck.py from cairo-lang
0.14.0.1 itself (random keys, hashes, seeds, Pedersen inputs, good/tampered/AIR-rejected signatures,
bad input); this file needs no cairo-lang. Known answers come from spec dydx-v3.md §4.3/§10 and the
kit's vectors (computed by dydx-v3-python).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dydx_airgap.shared import stark
from dydx_airgap.shared.errors import AirgapError, InputError, SignatureError
from tests.conftest import kit_vectors

FROZEN = json.loads((Path(__file__).parents[1] / "data" / "stark_cases.json").read_text())
OPERATIONS: dict[str, Callable[..., Any]] = {
    "private_key_to_ec_point_on_stark_curve": stark.private_key_to_ec_point_on_stark_curve,
    "private_to_stark_key": stark.private_to_stark_key,
    "get_y_coordinate": stark.get_y_coordinate,
    "is_valid_stark_key": stark.is_valid_stark_key,
    "generate_k_rfc6979": stark.generate_k_rfc6979,
    "sign": stark.sign,
    "verify": stark.verify,
    "pedersen_hash": stark.pedersen_hash,
    "pedersen_hash_as_point": stark.pedersen_hash_as_point,
    "inv_mod_curve_size": stark.inv_mod_curve_size,
}
P = stark.FIELD_PRIME
N = stark.EC_ORDER
SIGNABLE = 2**251


def decode(value: Any) -> Any:
    if isinstance(value, str):
        return int(value, 16)
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    return value


def test_frozen_file_is_large_enough_and_covers_every_operation() -> None:
    assert FROZEN["format"] == "stark-crosscheck/1"
    cases = FROZEN["cases"]
    assert len(cases) >= 100
    assert {case["op"] for case in cases} == set(OPERATIONS)
    verify_outcomes = [case["expected"].get("value") for case in cases if case["op"] == "verify"]
    assert verify_outcomes.count(True) >= 10 and verify_outcomes.count(False) >= 10
    assert sum("air:" in case.get("note", "") for case in cases) >= 8


@pytest.mark.parametrize("case", FROZEN["cases"], ids=[case["id"] for case in FROZEN["cases"]])
def test_matches_cairo_lang(case: dict[str, Any]) -> None:
    operation = OPERATIONS[case["op"]]
    args = [decode(arg) for arg in case["args"]]
    if "error" in case["expected"]:
        # cairo-lang raised (AssertionError, ValueError, ...); we must raise a typed error instead.
        with pytest.raises(AirgapError):
            operation(*args)
    else:
        assert operation(*args) == decode(case["expected"]["value"])


def test_constant_points_equal_cairo_langs_table() -> None:
    points = stark.CONSTANT_POINTS
    text = json.dumps([[hex(x), hex(y)] for x, y in points], separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN["constant_points_sha256"]
    assert len(points) == 506
    assert points[0] == stark.SHIFT_POINT
    assert points[1] == stark.EC_GEN
    assert points[2:4] == tuple(points)[2:4]
    assert all(stark.is_point_on_curve(x, y) for x, y in points)


def test_constants() -> None:
    assert P == 0x0800000000000011000000000000000000000000000000000000000000000001
    assert N == 0x0800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
    assert stark.N_ELEMENT_BITS_ECDSA == 251 and stark.N_ELEMENT_BITS_HASH == 252
    assert (stark.SHIFT_POINT[0], P - stark.SHIFT_POINT[1]) == stark.MINUS_SHIFT_POINT
    assert stark.is_point_on_curve(*stark.EC_GEN) and stark.is_point_on_curve(*stark.SHIFT_POINT)


# --- known answers -------------------------------------------------------------------------------

# Spec dydx-v3.md §10.1 (dydx-v3-python's and starkex-lib's tests): private key -> (x, y).
SPEC_KEY_PAIRS = [
    (  # keyPairFromData(b'0')
        0x2242959533856F2A03F3C7D9431E28EF4FE5CB2A15038C37F1D76D35DC508B,
        0x69A33D37101D7089B606F92E4B41553C237A474AD9D6F62EEB6708415F98F4D,
        0x717E78B98A53888AA7685B91137FA01B9336CE7D25F874DBFB8D752C6AC610D,
    ),
    (  # Ganache key, mainnet
        0x170D807CAFE3D8B5758F3F698331D292BF5AEB71F6FD282F0831DEE094EE891,
        0x39D88860B99B1809A63ADD01F7DFA59676AE006BBCDF38FF30B6A69DCF55ED3,
        0x2BDD58A2C2ACB241070BC5D55659A85BBA65211890A8C47019A33902ABA8400,
    ),
    (  # Ganache key, Ropsten
        0x50505654B282EB3DEBADDDEDDFA1BC76545A6837DCD59D7D41F6A282A4BBCCC,
        0x35E23A936E596969A6B3131CFCCBD18B71779F28276D30E8215CD0D3E9252C2,
        0x557D1A1BE389D9921B9D16415EAC12BD276B05E2564C4B30A7730ACE13A0E19,
    ),
    (  # Ganache key, Goerli
        0x1019187D91B8EFFE153AB1932930E27C8D01C56AD9CC937C777633C0FFC5A7E,
        0x3EA05770B452DF14427B3F07FF600FAA132ECC3D7643275042CB4DA6AD99972,
        0x7310E2AB01978806A6FB6E51A9EE1C9A5C5117C63530AD7DEAD2B9F72094CC3,
    ),
    (  # Ganache key, Sepolia
        0x2D21C094FEDEA3E72BEF27FBCDCEAAFD34E88FC4B7586859E26E98B21E63A60,
        0x15E2E074A7AC9E78EDB2EE9F11A0C0C0A080C79758AB81616EEA9C032C75265,
        0x360408546B64238F80D7A8A336D7304D75F122A7E5BB22CBB7A14F550EAC5A8,
    ),
]


@pytest.mark.parametrize(("private", "x", "y"), SPEC_KEY_PAIRS)
def test_spec_key_pairs(private: int, x: int, y: int) -> None:
    assert stark.private_key_to_ec_point_on_stark_curve(private) == (x, y)
    assert stark.private_to_stark_key(private) == x
    # get_y_coordinate knows only x: it returns one of the two roots, the smaller one.
    assert stark.get_y_coordinate(x) == min(y, P - y)
    assert stark.is_valid_stark_key(x)


def _kit_key_pairs() -> list[tuple[str, int, int, int | None]]:
    pairs: list[tuple[str, int, int, int | None]] = []
    for vector in kit_vectors():
        y = vector.get("stark_public_key_y_coordinate")
        pairs.append(
            (
                vector["name"],
                int(vector["stark_private_key"], 16),
                int(vector["stark_public_key"], 16),
                y and int(y, 16),
            )
        )
        for index, candidate in enumerate(vector.get("stark_key_candidates", [])):
            name = f"{vector['name']}/candidate-{index}"
            pairs.append(
                (name, int(candidate["stark_private_key"], 16), int(candidate["stark_public_key"], 16), None)
            )
    return pairs


KIT_PAIRS = _kit_key_pairs()


@pytest.mark.parametrize(("name", "private", "x", "y"), KIT_PAIRS, ids=[pair[0] for pair in KIT_PAIRS])
def test_kit_vector_key_pairs(name: str, private: int, x: int, y: int | None) -> None:
    point = stark.private_key_to_ec_point_on_stark_curve(private)
    assert point[0] == x
    if y is not None:
        assert point[1] == y


PEDERSEN_KNOWN = [  # as published in other Starknet libraries' tests (noble-curves, starknet-rs, Swift SDK)
    ((1, 2), 0x5BB9440E27889A364BCB678B1F679ECD1347ACDEDCBF36E83494F857CC58026),
    ((2, 3), 0x5774FA77B3D843AE9167ABD61CF80365A9B2B02218FC2F628494B5BDC9B33B8),
    ((3, 4), 0x262697B88544F733E5C6907C3E1763131E9F14C51EE7951258ABBFB29415FBF),
    ((1, 0), 0x268A9D47DDE48AF4B6E2C33932ED1C13ADEC25555ABAA837C376AF4EA2F8A94),
    ((0, 0), 0x49EE3EBA8C1600700EE1B87EB599F16716B0B1022947733551FDE4050CA6804),
]


@pytest.mark.parametrize(("elements", "expected"), PEDERSEN_KNOWN)
def test_pedersen_known_answers(elements: tuple[int, int], expected: int) -> None:
    assert stark.pedersen_hash(*elements) == expected


# --- properties ----------------------------------------------------------------------------------

private_keys = st.integers(min_value=1, max_value=N - 1)
message_hashes = st.integers(min_value=1, max_value=SIGNABLE - 1)
seeds = st.none() | st.integers(min_value=0, max_value=2**300)


@settings(max_examples=15, deadline=None)
@given(private_keys, message_hashes, seeds)
def test_sign_verify_round_trip_and_tampering(private: int, msg_hash: int, seed: int | None) -> None:
    r, s = stark.sign(msg_hash, private, seed)
    assert 1 <= r < SIGNABLE and 1 <= s < N
    assert stark.sign(msg_hash, private, seed) == (r, s)  # deterministic (RFC 6979)
    public = stark.private_key_to_ec_point_on_stark_curve(private)
    assert stark.verify(msg_hash, r, s, public)
    assert stark.verify(msg_hash, r, s, public[0])
    assert not stark.verify(msg_hash, r, s, (public[0], P - public[1]))
    assert not stark.verify(msg_hash ^ 1, r, s, public[0])
    assert not stark.verify(msg_hash, r, (s * 2) % N or 1, public[0])
    # 2·private is another key (never ±private: EC_ORDER is prime and > 3).
    assert not stark.verify(msg_hash, r, s, stark.private_to_stark_key(2 * private % N))


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=P - 1), st.integers(min_value=0, max_value=P - 1))
def test_pedersen_equals_its_definition(a: int, b: int) -> None:
    # H(a, b) = x of SHIFT + a_low·P0 + a_high·P1 + b_low·P2 + b_high·P3, by plain affine arithmetic.
    point: tuple[int, int] | None = stark.SHIFT_POINT
    bases = (
        stark.CONSTANT_POINTS[2],
        stark.CONSTANT_POINTS[250],
        stark.CONSTANT_POINTS[254],
        stark.CONSTANT_POINTS[502],
    )
    parts = (a & (2**248 - 1), a >> 248, b & (2**248 - 1), b >> 248)
    for base, scalar in zip(bases, parts, strict=True):
        point = _affine_add(point, _affine_mul(scalar, base))
    assert point is not None
    assert stark.pedersen_hash_as_point(a, b) == point
    assert stark.pedersen_hash(a, b) == point[0]


def _affine_add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    """Textbook affine addition with None as the point at infinity: independent of the module."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + stark.ALPHA) * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return x, (slope * (p1[0] - x) - p1[1]) % P


def _affine_mul(scalar: int, point: tuple[int, int]) -> tuple[int, int] | None:
    result: tuple[int, int] | None = None
    addend: tuple[int, int] | None = point
    while scalar:
        if scalar & 1:
            result = _affine_add(result, addend)
        addend = _affine_add(addend, addend)
        scalar >>= 1
    return result


@settings(max_examples=10, deadline=None)
@given(private_keys)
def test_scalar_multiplication_equals_textbook_arithmetic(private: int) -> None:
    assert stark.private_key_to_ec_point_on_stark_curve(private) == _affine_mul(private, stark.EC_GEN)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=P - 1))
def test_get_y_coordinate_gives_the_smaller_root_or_a_typed_error(x: int) -> None:
    try:
        y = stark.get_y_coordinate(x)
    except stark.InvalidPublicKeyError:
        assert not stark.is_valid_stark_key(x)
        # Euler's criterion, independently: the right-hand side is not a square.
        assert pow((x**3 + x + stark.BETA) % P, (P - 1) // 2, P) == P - 1
    else:
        assert stark.is_point_on_curve(x, y)
        assert y <= P - y


def test_random_private_keys_are_in_range_and_distinct() -> None:
    keys = [stark.get_random_private_key() for _ in range(64)]
    assert all(stark.is_valid_stark_private_key(key) for key in keys)
    assert len(set(keys)) == len(keys)
    # Uniform over [1, EC_ORDER): at least one key must use the top bit's neighbourhood (2**250).
    assert any(key >= 2**250 for key in keys)


def test_air_rejects_a_zero_message_hash_even_if_the_equation_holds() -> None:
    # Key substitution: pick R = k·G and w, then Q = (w·r)⁻¹·R satisfies x(w·(0·G + r·Q)) = r.
    w = 0x1234567890ABCDEF
    r_point = stark.private_key_to_ec_point_on_stark_curve(0xC0FFEE)
    r = r_point[0]
    q = _affine_mul(pow(w * r, -1, N), r_point)
    assert q is not None
    assert stark.verify(0, r, pow(w, -1, N), q) is False


# --- bad input: typed errors, never AssertionError, never the key in the message -----------------

SECRET = 0x0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDE


@pytest.mark.parametrize("private", [0, N, N + 5, -SECRET, 2**256 + SECRET])
def test_private_key_out_of_range(private: int) -> None:
    with pytest.raises(InputError) as raised:
        stark.private_key_to_ec_point_on_stark_curve(private)
    assert hex(abs(private))[2:] not in raised.value.message and str(abs(private)) not in raised.value.message
    with pytest.raises(InputError):
        stark.sign(1, private)
    assert not stark.is_valid_stark_private_key(private)


@pytest.mark.parametrize("bad", [True, "0x1", 1.0, None, b"\x01"])
def test_non_integers_are_refused(bad: object) -> None:
    with pytest.raises(InputError):
        stark.private_to_stark_key(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        stark.pedersen_hash(bad)  # type: ignore[arg-type]
    with pytest.raises(AirgapError):
        stark.verify(1, 1, bad, 1)  # type: ignore[arg-type]


def test_sign_refuses_unsignable_hashes_and_negative_seeds() -> None:
    for msg_hash in (0, -1, SIGNABLE, 2**256):
        with pytest.raises(InputError):
            stark.sign(msg_hash, SECRET)
    with pytest.raises(InputError):
        stark.sign(5, SECRET, seed=-1)


def test_verify_errors_are_typed() -> None:
    msg_hash = 0xABCDEF
    r, s = stark.sign(msg_hash, SECRET)
    public = stark.private_key_to_ec_point_on_stark_curve(SECRET)
    for bad_r, bad_s in ((0, s), (SIGNABLE, s), (r, 0), (r, N), (r, pow(SIGNABLE + 1, -1, N))):
        with pytest.raises(SignatureError):
            stark.verify(msg_hash, bad_r, bad_s, public[0])
    with pytest.raises(InputError):
        stark.verify(SIGNABLE, r, s, public[0])
    with pytest.raises(InputError):
        stark.verify(msg_hash, r, s, (public[0], public[1] ^ 1))  # not on the curve
    with pytest.raises(InputError):
        stark.verify(msg_hash, r, s, (public[0], public[1] + P))  # not reduced
    with pytest.raises(InputError):
        stark.verify(msg_hash, r, s, (public[0],))  # type: ignore[arg-type]
    assert stark.verify(msg_hash, r, s, public[0] + P) is False  # not a valid STARK key
    assert stark.verify(msg_hash, r, s, public) is True


def test_pedersen_and_key_input_errors() -> None:
    for elements in ((P,), (-1,), (1, 2, 3)):
        with pytest.raises(InputError):
            stark.pedersen_hash(*elements)
    for x in (-1, P, P + 5):
        with pytest.raises(stark.InvalidPublicKeyError):
            stark.get_y_coordinate(x)
        assert not stark.is_valid_stark_key(x)
    with pytest.raises(InputError):
        stark.inv_mod_curve_size(N)
