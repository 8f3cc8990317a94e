"""Authenticator trees: parsed from the vectors' exact bytes, re-encoded to them, and judged as the
vectors say (spec headline 1: only MessageFilter limits message types)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from dydx_airgap.shared.dydx_v4 import authenticators as auth
from dydx_airgap.shared.dydx_v4.messages import MAX_AUTHENTICATOR_DATA, MsgAddAuthenticator
from dydx_airgap.shared.errors import FormatError
from tests.dydx_v4_vectors import v4

DATA = v4()
UNSAFE: list[dict[str, Any]] = DATA["unsafe_authenticators"]
SAFE: list[dict[str, Any]] = DATA["safe_authenticators"]
ALL = UNSAFE + SAFE
IDS = [c["label"] for c in ALL]
HOT1 = bytes.fromhex(DATA["hot_keys"][0]["public_key_compressed"])
HOT2 = bytes.fromhex(DATA["hot_keys"][1]["public_key_compressed"])


def _tree(case: dict[str, Any]) -> auth.Authenticator:
    data = bytes.fromhex(case["data_hex"])
    assert base64.b64decode(case["data_base64"]) == data and len(data) == case["data_len"]
    return auth.parse_authenticator(case["authenticator_type"], data)


def test_vectors_hold_safe_and_unsafe_cases() -> None:
    assert len(UNSAFE) == 4 and len(SAFE) == 3
    assert all(not c["safe_for_cold_signer"] for c in UNSAFE)
    assert all(c["safe_for_cold_signer"] for c in SAFE)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_tree_decodes_to_the_reference_tree(case: dict[str, Any]) -> None:
    assert auth.as_tree(_tree(case)) == case["decoded_tree"]


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_tree_re_encodes_to_the_exact_data_bytes(case: dict[str, Any]) -> None:
    assert auth.encode_authenticator(_tree(case)) == (
        case["authenticator_type"],
        bytes.fromhex(case["data_hex"]),
    )
    assert len(bytes.fromhex(case["data_hex"])) <= MAX_AUTHENTICATOR_DATA


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_classification_matches_the_vectors_with_a_reason(case: dict[str, Any]) -> None:
    verdict = auth.classify(_tree(case), bytes.fromhex(case["hot_pubkey"]))
    assert verdict.safe is case["safe_for_cold_signer"]
    assert verdict.chain_accepts is case["chain_accepts"]
    assert verdict.reason
    assert auth.requires_signature(_tree(case)) is case["chain_accepts"]


@pytest.mark.parametrize("case", UNSAFE, ids=[c["label"] for c in UNSAFE])
def test_unsafe_reason_names_the_hole(case: dict[str, Any]) -> None:
    reason = auth.classify(_tree(case), bytes.fromhex(case["hot_pubkey"])).reason
    if case["chain_accepts"]:
        assert "any message type" in reason
    else:
        assert "no signature" in reason


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_signed_add_authenticator_carries_the_case_bytes(case: dict[str, Any]) -> None:
    (message,) = case["tx_if_signed"]["request"]["messages"]
    assert message["type_url"] == MsgAddAuthenticator.TYPE_URL
    assert message["value"]["authenticator_type"] == case["authenticator_type"]
    assert message["value"]["data_hex"] == case["data_hex"]


def test_recipe_builder_reproduces_every_recipe_in_the_vectors() -> None:
    recipes = [t for t in DATA["txs"] if t["name"].split("/")[1].startswith("add_authenticator_recipe")]
    assert len(recipes) == 4
    for tx in recipes:
        value = tx["request"]["messages"][0]["value"]
        hot = bytes.fromhex(tx["annotations"]["hot_pubkey"])
        built = auth.encode_authenticator(auth.trading_key_recipe(hot))
        assert built == (value["authenticator_type"], bytes.fromhex(value["data_hex"]))
        assert auth.classify(auth.trading_key_recipe(hot), hot).safe


def test_recipe_is_the_specs_491_bytes_for_the_spec_hot_key() -> None:
    hot = bytes.fromhex("0291d1d9fd23334f3d53c3a5b50b56317d8964692320d73d22d7a0b115d5eb574f")
    _, data = auth.encode_authenticator(auth.trading_key_recipe(hot))
    assert len(data) == 491
    assert data.startswith(
        b'[{"type":"SignatureVerification","config":"ApHR2f0jM089U8OltQtWMX2JZGkjINc9ItegsRXV61dP"},'
        b'{"type":"AnyOf","config":"W3sidHlwZSI6Ik1lc3NhZ2VGaWx0ZXIi'
    )
    assert data.endswith(b'{"type":"SubaccountFilter","config":"MA=="}]')


def _spaced(node: auth.Authenticator) -> bytes:
    """The official Python client's form: json.dumps with default separators, nested likewise."""
    if isinstance(node, auth.AllOf | auth.AnyOf):
        entries = [
            {"type": auth.type_name(s), "config": base64.b64encode(_spaced(s)).decode()} for s in node.subs
        ]
        return json.dumps(entries).encode()
    return auth.config_bytes(node)


def test_spaced_json_form_decodes_to_the_same_tree_with_other_bytes() -> None:
    recipe = auth.trading_key_recipe(HOT1)
    spaced = _spaced(recipe)
    assert spaced != auth.config_bytes(recipe)
    assert auth.parse_authenticator("AllOf", spaced) == recipe


def test_a_tree_for_another_key_is_unsafe_for_this_hot_key() -> None:
    verdict = auth.classify(auth.trading_key_recipe(HOT2), HOT1)
    assert not verdict.safe and "other than the hot key" in verdict.reason
    assert auth.classify(auth.trading_key_recipe(HOT2)).safe


def test_message_filter_allowing_a_withdrawal_is_unsafe() -> None:
    tree = auth.AllOf(
        (
            auth.SignatureVerification(HOT1),
            auth.MessageFilter((auth.PLACE_ORDER, "/dydxprotocol.sending.MsgWithdrawFromSubaccount")),
        )
    )
    verdict = auth.classify(tree, HOT1)
    assert not verdict.safe and "MsgWithdrawFromSubaccount" in verdict.reason


def test_anyof_of_two_signed_paths_is_safe_only_if_both_are() -> None:
    trading = auth.AllOf((auth.SignatureVerification(HOT1), auth.MessageFilter((auth.CANCEL_ORDER,))))
    loose = auth.AllOf((auth.SignatureVerification(HOT1), auth.SubaccountFilter((0,))))
    assert auth.classify(auth.AnyOf((trading, trading)), HOT1).safe
    mixed = auth.classify(auth.AnyOf((trading, loose)), HOT1)
    assert mixed.chain_accepts and not mixed.safe


# --- strict parsing ------------------------------------------------------------------------------------------


def _composite(entries: list[dict[str, str]]) -> bytes:
    return json.dumps(entries, separators=(",", ":")).encode()


SIG = {"type": "SignatureVerification", "config": base64.b64encode(HOT1).decode()}
FILTER = {"type": "MessageFilter", "config": base64.b64encode(auth.PLACE_ORDER.encode()).decode()}


@pytest.mark.parametrize(
    ("type_name", "config", "fragment"),
    [
        ("PartitionedAllOf", _composite([SIG, FILTER]), "not registered"),
        ("AllOf", _composite([SIG]), "at least two"),
        ("AllOf", b'[{"type":"MessageFilter","type":"SignatureVerification","config":"AA=="},{}]', "repeats"),
        ("AllOf", _composite([{"Type": SIG["type"], "config": SIG["config"]}, FILTER]), "exactly"),
        ("AllOf", _composite([{**SIG, "extra": "x"}, FILTER]), "exactly"),
        ("AllOf", _composite([SIG, {**FILTER, "config": FILTER["config"].rstrip("=")}]), "base64"),
        # "L2F=" decodes to "/a" like "L2E=", through non-zero padding bits: a second spelling, refused.
        ("AllOf", _composite([SIG, {**FILTER, "config": "L2F="}]), "canonical"),
        ("AllOf", _composite([SIG, {**FILTER, "config": "L2E="}, {**FILTER, "config": "L2E"}]), "base64"),
        ("AllOf", b"[1, 2]", "exactly"),
        ("AllOf", b"{not json", "not JSON"),
        ("AllOf", b'[{"type":"MessageFilter","config":"L2E="}, NaN]', "NaN"),
        ("SignatureVerification", HOT1[:32], "33 bytes"),
        ("SignatureVerification", b"\x04" + HOT1[1:], "02 or 03"),
        ("MessageFilter", b"/a.B, /c.D", "type URL"),
        ("MessageFilter", b"/a.B,,/c.D", "type URL"),
        ("SubaccountFilter", b"01", "decimal"),
        ("SubaccountFilter", b"0, 1", "decimal"),
        ("ClobPairIdFilter", b"4294967296", "32 bits"),
        ("ClobPairIdFilter", b"", "empty"),
    ],
)
def test_malformed_configs_are_refused(type_name: str, config: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        auth.parse_authenticator(type_name, config)


def test_nesting_beyond_the_limit_is_refused() -> None:
    node: auth.Authenticator = auth.AllOf((auth.SignatureVerification(HOT1), auth.SubaccountFilter((0,))))
    for _ in range(auth.MAX_DEPTH + 1):
        node = auth.AllOf((auth.SignatureVerification(HOT1), node))
    with pytest.raises(FormatError, match="deeper"):
        auth.parse_authenticator("AllOf", auth.config_bytes(node))


def test_the_canonical_spelling_next_to_each_refused_one_parses() -> None:
    # Positive control for the table above: the refusals come from the flaw, not from the surroundings.
    tree = auth.parse_authenticator("AllOf", _composite([SIG, {**FILTER, "config": "L2E="}]))
    assert tree == auth.AllOf((auth.SignatureVerification(HOT1), auth.MessageFilter(("/a",))))
    assert auth.parse_authenticator("SubaccountFilter", b"0,1") == auth.SubaccountFilter((0, 1))
    assert auth.parse_authenticator("ClobPairIdFilter", b"4294967295") == auth.ClobPairIdFilter((2**32 - 1,))
