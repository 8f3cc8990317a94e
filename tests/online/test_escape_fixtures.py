"""The rehearsal's own escape formats (online/rehearsal/escape), without a chain: leaf, tree, proof, state.

The numbers they must reproduce come from the spec kit (escape-hatch.md §A5, §A7) and the real mainnet
vector; the contracts that consume them are tested in test_escape_rehearsal.py.
"""

from __future__ import annotations

import json

import pytest

from dydx_airgap.online.rehearsal.escape.fixtures import (
    asset_id_of,
    build_escape_state,
    mainnet_position_1,
    synthetic_market,
    synthetic_positions,
    synthetic_stark_key,
)
from dydx_airgap.online.rehearsal.escape.leaf import EMPTY_POSITION, AssetBalance, Position, leaf_hash
from dydx_airgap.online.rehearsal.escape.program_output import (
    Modification,
    application_data,
    new_state_of,
    program_output,
)
from dydx_airgap.online.rehearsal.escape.proof import decode_merkle_proof, pack_pair, unpack_pair
from dydx_airgap.online.rehearsal.escape.state import SharedState, shared_state_hash
from dydx_airgap.online.rehearsal.escape.tree import empty_subtree_hashes
from dydx_airgap.shared.stark.pedersen import pedersen_hash
from tests.conftest import KIT

VECTOR = json.loads((KIT / "vectors" / "escape-mainnet-pos1.json").read_text())


def test_empty_leaf_and_empty_root_are_the_specs() -> None:
    empty = empty_subtree_hashes()
    assert (
        leaf_hash(EMPTY_POSITION)
        == empty[0]
        == 0x028109B4E56FAD0455AA4B316045C93937B1E7E4E0FC663DB375B9E67C80C620
    )
    assert empty[64] == 0x052DDCBDD431A044CF838A71D194248640210B316D7B1A568997ECAD9DEC9626


def test_mainnet_proof_reads_back_to_its_root_position_and_amount() -> None:
    vector = mainnet_position_1()
    assert f"0x{vector.root:064x}" == VECTOR["root"]
    assert "0x" + shared_state_hash(vector.shared_state).hex() == VECTOR["shared_state_hash"]
    decoded = decode_merkle_proof(vector.merkle_proof, 0)
    assert decoded.position_id == 1 and decoded.root == vector.root == vector.shared_state[0]
    # Walk the path with our own Pedersen and the verifier's selector rule.
    pairs = [(decoded.chain[i], decoded.items[i]) for i in range(2)] + list(decoded.path)
    for level, (left, right) in enumerate(pairs):
        above = pairs[level + 1] if level + 1 < len(pairs) else (decoded.root, 0)
        expected = above[1] if (decoded.node_index >> (level + 1)) & 1 else above[0]
        assert pedersen_hash(left, right) == expected, level
    state = vector.escape_state()
    position = state.positions[1]
    assert position.stark_key == vector.stark_key and position.n_assets == 0
    assert position.collateral == VECTOR["expected_withdrawal_quantized"] == state.withdrawals[1]
    parsed = SharedState.from_words(vector.shared_state)
    assert len(parsed.funding) == len(parsed.prices) == 38
    assert parsed.words() == vector.shared_state


def test_pairs_pack_as_the_verifier_unpacks_them() -> None:
    left, right = 2**252 - 1, 0x123456789ABCDEF << 190
    assert unpack_pair(*pack_pair(left, right)) == (left, right)
    first, second = pack_pair(5, 7)
    assert first == 5 << 4 and second == 7 << 8
    with pytest.raises(ValueError, match="252 bits"):
        pack_pair(2**252, 0)


def test_built_state_has_one_consistent_proof_per_position() -> None:
    seed = b"fixture test"
    market = synthetic_market(seed)
    keys = [synthetic_stark_key(seed, index) for index in range(3)]
    positions = synthetic_positions(seed, market, keys, first_position_id=40)
    state = build_escape_state(positions, market.funding, market.prices, funding_timestamp=1_700_000_000)
    assert set(state.proofs) == {40, 41, 42}
    assert all(amount > 0 for amount in state.withdrawals.values())
    assert all(funding < 0 for funding in market.funding.values())
    for position in positions:
        decoded = decode_merkle_proof(state.proofs[position.position_id], position.n_assets)
        assert decoded.position_id == position.position_id and decoded.root == state.root
        assert decoded.items[-2] == position.stark_key
        assert len(state.proofs[position.position_id]) == 134 + 2 * position.n_assets
    # Assets are stored sorted by id whatever order they came in.
    btc, eth = asset_id_of("BTC-10"), asset_id_of("ETH-9")
    assert btc == 0x4254432D3130 << 72
    shuffled = Position(1, keys[0], 10, (AssetBalance(eth, 1, 0), AssetBalance(btc, 1, 0)))
    assert [asset.asset_id for asset in shuffled.assets] == sorted([btc, eth])


def test_program_output_carries_the_new_state_where_parse_program_output_reads_it() -> None:
    previous, new = (1, 2, 3), (9, 8, 7, 6)
    output = program_output(previous, new, expiration_hours=500_000, modifications=[Modification(5, 6, -7)])
    assert new_state_of(output) == new
    assert output[:2] == (0, 0) and output[2] == 3 and output[6] == 4
    assert output[11:16] == (500_000, 1, 5, 6, 2**64 - 7)
    assert output[16:] == (0, 0, 0, 0, 0)  # no forced actions, no conditions, on-chain data 0, 0
    assert application_data(3, 2) == (3, 2, 0)
