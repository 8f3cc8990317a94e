"""The escape verifier: the real mainnet proof, every refusal with the contract's reason, generated trees."""

from __future__ import annotations

import hashlib
import json
from itertools import count

import pytest

from dydx_airgap.shared.dydx_v3.escape.calldata import (
    EscapeCall,
    VerifyEscapeCall,
    WithdrawCall,
    decode_escape_hatch_call,
    verify_escape_calldata,
)
from dydx_airgap.shared.dydx_v3.escape.sources import escape_data_from_json, escape_data_from_page
from dydx_airgap.shared.dydx_v3.escape.state import decode_shared_state
from dydx_airgap.shared.dydx_v3.escape.verifier import EscapeProofError, escape_fact, verify_escape
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from tests.conftest import KIT
from tests.shared.escape_trees import Position, build, pack_pair, state_words

VECTOR = json.loads((KIT / "vectors" / "escape-mainnet-pos1.json").read_text())
PROOF = [int(w, 16) for w in VECTOR["merkle_proof"]]
STATE = [int(w, 16) for w in VECTOR["shared_state"]]


def refusal(proof: list[int], n_assets: int, state: list[int]) -> str:
    with pytest.raises(EscapeProofError) as caught:
        verify_escape(proof, n_assets, state)
    return caught.value.reason


def test_mainnet_position_1_proof_yields_the_recorded_amount_fact_and_state_hash() -> None:
    result = verify_escape(PROOF, VECTOR["n_assets"], STATE)
    assert result.amount == VECTOR["expected_withdrawal_quantized"] == 21899778005454
    assert result.stark_key == int(VECTOR["stark_key"], 16)
    assert result.position_id == VECTOR["position_id"]
    assert result.root == int(VECTOR["root"], 16)
    assert "0x" + result.shared_state_hash.hex() == VECTOR["shared_state_hash"]
    assert "0x" + result.fact.hex() == VECTOR["escape_fact"]
    assert result.tree_height == 64 and result.assets == ()


def test_mainnet_calldata_is_byte_identical_to_the_recorded_calls() -> None:
    data = verify_escape_calldata(PROOF, VECTOR["n_assets"], STATE)
    assert len(data) == VECTOR["verify_escape_calldata_length"]
    assert "0x" + keccak256(data).hex() == VECTOR["verify_escape_calldata_keccak"]
    assert decode_escape_hatch_call(data) == VerifyEscapeCall(tuple(PROOF), 0, tuple(STATE))
    stark_key = int(VECTOR["stark_key"], 16)
    escape = EscapeCall(stark_key, 1, VECTOR["expected_withdrawal_quantized"]).encode()
    assert "0x" + escape.hex() == VECTOR["escape_calldata"]
    withdraw = WithdrawCall(stark_key, get_network(1).collateral_asset_id).encode()
    assert "0x" + withdraw.hex() == VECTOR["withdraw_calldata"]


def test_verify_escape_calldata_with_a_moved_offset_or_trailing_word_is_refused() -> None:
    data = verify_escape_calldata(PROOF, 0, STATE)
    with pytest.raises(FormatError):
        decode_escape_hatch_call(data + bytes(32))
    with pytest.raises(FormatError):
        decode_escape_hatch_call(data[:4] + (0x80).to_bytes(32, "big") + data[36:])


def test_an_amount_one_unit_lower_is_a_different_fact() -> None:
    result = verify_escape(PROOF, 0, STATE)
    lower = escape_fact(result.stark_key, result.amount - 1, result.shared_state_hash, result.position_id)
    assert lower != result.fact


@pytest.mark.parametrize("word", [5, 40, 77, 131])
def test_one_flipped_proof_word_is_refused_as_a_bad_merkle_path(word: int) -> None:
    proof = list(PROOF)
    proof[word] ^= 1 << 100
    assert refusal(proof, 0, STATE) == "Bad Merkle path."


def test_a_wrong_asset_count_is_refused() -> None:
    # Position 1 is odd, so claiming one asset leaves a set bit where the hash chain must be.
    assert refusal(PROOF, 1, STATE) == "merkleProof is inconsistent with nAssets."


def test_a_wrong_tree_height_is_refused() -> None:
    state = list(STATE)
    state[1] = 63
    assert refusal(PROOF, 0, state) == "merkleProof is inconsistent with the height in the sharedState."


def test_a_truncated_proof_fails_on_the_height_before_the_length() -> None:
    proof = PROOF[:10] + PROOF[12:]
    assert refusal(proof, 0, STATE) == "merkleProof is inconsistent with the height in the sharedState."


def test_an_odd_node_index_is_refused_by_the_position_extraction() -> None:
    proof = list(PROOF)
    proof[-1] |= 1 << 8
    assert refusal(proof, 0, STATE) == "merkleProof is inconsistent with nAssets."


def test_a_node_at_or_above_the_field_prime_is_refused_as_out_of_range() -> None:
    proof = list(PROOF)
    # Pair 30's right node becomes the prime itself; its left node stays.
    left = proof[60] >> 4
    proof[60], proof[61] = pack_pair(left, FIELD_PRIME)
    assert refusal(proof, 0, STATE) == "Value out of range."


def test_a_root_other_than_the_states_is_refused() -> None:
    state = list(STATE)
    state[0] ^= 1
    assert refusal(PROOF, 0, state) == "merkleProof is inconsistent with the root in the sharedState."


def test_a_proof_presented_for_another_position_is_refused() -> None:
    proof = list(PROOF)
    root = proof[-2] >> 4
    # Same words, node index of position 3: the path now climbs on the wrong sides.
    value = (root << 260) | ((3 << 2) << 8)
    proof[-2], proof[-1] = value >> 256, value & (2**256 - 1)
    assert refusal(proof, 0, STATE) == "Bad Merkle path."


def test_a_hash_chain_not_starting_at_zero_is_refused() -> None:
    proof = list(PROOF)
    proof[0] |= 1 << 200
    assert refusal(proof, 0, STATE) == "Position hash-chain must start with 0."


def test_reads_past_the_arrays_are_refused_with_our_own_reason() -> None:
    assert "reads past the end of merkleProof" in refusal(PROOF[:2], 0, STATE)
    assert "reads past the end of sharedState" in refusal(PROOF, 0, STATE[:3])


ASSETS = [int.from_bytes(name.encode().ljust(15, b"\0"), "big") for name in ("BTC-10", "ETH-9", "LINK-7")]


def _expected_amount(position: Position, funding: dict[int, int], prices: dict[int, int]) -> int:
    """The contract's formula with Python integers: funding floored to 2^32 before it is added."""
    value = position.collateral * 2**32
    owed = 0
    for asset_id, balance, cached in position.assets:
        value += balance * prices[asset_id]
        owed -= balance * (funding[asset_id] - cached)
    return (value + (owed // 2**32) * 2**32) // 2**32


class _Numbers:
    """Deterministic test numbers (the random module is banned from this code base)."""

    def __init__(self) -> None:
        self._counter = count()

    def randrange(self, low: int, high: int) -> int:
        digest = hashlib.sha256(next(self._counter).to_bytes(8, "big")).digest()
        return low + int.from_bytes(digest, "big") % (high - low)


def test_generated_positions_with_synthetics_and_negative_funding_verify_with_the_exact_formula() -> None:
    rng = _Numbers()
    funding = {asset: rng.randrange(-(2**40), 2**40) for asset in ASSETS}
    prices = {asset: rng.randrange(2**30, 2**50) for asset in ASSETS}
    positions = [
        Position(7, 0x1234, 5_000_000_000, [(ASSETS[0], 3, funding[ASSETS[0]] + 2**33 + 7)]),
        Position(8, 0x5678, 10**12, [(ASSETS[1], -2_000, funding[ASSETS[1]] - 12345), (ASSETS[2], 17, 0)]),
        Position(2**40 + 3, 0x9ABC, 2_500_000, []),
        Position(
            2**63,
            0xDEF0,
            1_000_000,
            [(a, rng.randrange(-1000, 1000), rng.randrange(-99, 99)) for a in ASSETS],
        ),
    ]
    root, proofs = build(positions)
    state = state_words(root, sorted(funding.items()), sorted(prices.items()))
    decode_shared_state(state)
    for position in positions:
        expected = _expected_amount(position, funding, prices)
        if expected <= 0:
            assert refusal(proofs[position.position_id], len(position.assets), state) == (
                "Withdrawal amount must be positive."
            )
            continue
        result = verify_escape(proofs[position.position_id], len(position.assets), state)
        assert (result.amount, result.stark_key, result.position_id) == (
            expected,
            position.stark_key,
            position.position_id,
        )
        assert [a.asset_id for a in result.assets] == sorted(a for a, _, _ in position.assets)


def test_an_asset_missing_from_the_state_is_refused() -> None:
    position = Position(4, 0x42, 10**9, [(ASSETS[0], 1, 0)])
    root, proofs = build([position])
    state = state_words(root, [(ASSETS[1], 0)], [(ASSETS[1], 2**32)])
    assert refusal(proofs[4], 1, state) == "assetId not found."


def test_a_negative_balance_position_is_refused_as_not_positive() -> None:
    position = Position(5, 0x43, -(10**6), [])
    root, proofs = build([position])
    assert refusal(proofs[5], 0, state_words(root, [], [])) == "Withdrawal amount must be positive."


def test_explorer_page_and_vector_file_give_the_same_words() -> None:
    from_vector = escape_data_from_json(VECTOR)
    props = json.dumps(from_vector.to_json()).replace("&", "&amp;").replace('"', "&quot;")
    page = f'<html><body><form id="verify-escape-request-form" data-props="{props}"></form></body></html>'
    assert escape_data_from_page(page) == from_vector
    with pytest.raises(FormatError, match="no escape form"):
        escape_data_from_page(page[: len(page) // 2])


def test_a_tree_of_another_height_passes_the_contracts_checks_but_not_ours() -> None:
    from dydx_airgap.shared.dydx_v3.escape.summary import verify_escape_data

    # The contract compares the proof's height only with the state's: a 20-level tree verifies there.
    position = Position(3, 0x4321, 10**9, [])
    root, proofs = build([position], height=20)
    state = state_words(root, [], [], height=20)
    assert verify_escape(proofs[3], 0, state).tree_height == 20
    data = escape_data_from_json(
        {"stark_key": "0x4321", "position_id": 3, "n_assets": 0, "merkle_proof": [hex(w) for w in proofs[3]],
         "shared_state": [hex(w) for w in state]}
    )  # fmt: skip
    with pytest.raises(EscapeProofError, match="not dYdX's 64"):
        verify_escape_data(data)
