"""Our escape verifier (shared/dydx_v3/escape) and the chain's stand-in agree on every proof.

The stand-in is a Vyper contract on the local EVM (online/rehearsal), written apart from the Python
verifier; fixtures come from the rehearsal's own tree code. For generated states with synthetic assets and
negative funding, each valid proof and a set of mutations of it is run through both: an accepted proof must
give the same amount and fact (the verifier's event), a refused one the same reason. Where the contract
would revert without a reason (reads past an array) each side gives its own, and both must refuse.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dydx_airgap.online.rehearsal.escape.fixtures import (
    build_escape_state,
    synthetic_market,
    synthetic_positions,
    synthetic_stark_key,
)
from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
from dydx_airgap.shared.dydx_v3.escape.calldata import EVENT_ESCAPE_VERIFIED, verify_escape_calldata
from dydx_airgap.shared.dydx_v3.escape.verifier import OUT_OF_BOUNDS, EscapeProofError, verify_escape
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, NETWORKS
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from tests.online.test_escape_rehearsal import (
    OPERATOR,
    STRANGER,
    RpcFailure,
    _address,
    escape_setup,
    rpc,
    send,
)

VERIFIER = NETWORKS[LOCAL_REHEARSAL_CHAIN_ID].escape_verifier
OWN_REASON = "stand-in:"


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=LOCAL_REHEARSAL_CHAIN_ID,
        fund=[f"{_address(STRANGER)}:10:0"],
        setup=escape_setup(),
    ) as local:
        yield local


def on_chain(chain: LocalChain, proof: list[int], n_assets: int, state: list[int]) -> tuple[str, int | None]:
    """('ok', amount) or ('refused', reason) from an eth_call of the stand-in's verifyEscape."""
    data = verify_escape_calldata(proof, n_assets, state)
    request = {"from": _address(STRANGER), "to": VERIFIER, "input": "0x" + data.hex(), "gas": hex(25_000_000)}
    try:
        rpc(chain.url, "eth_call", request, "latest")
    except RpcFailure as failure:
        return failure.message.removeprefix("execution reverted: "), None
    # Accepted: mine it, and read the amount the stand-in computed from its LogEscapeVerified.
    receipt = send(chain.url, STRANGER, VERIFIER, data, gas=25_000_000)
    assert receipt["status"] == "0x1"
    (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == "0x" + EVENT_ESCAPE_VERIFIED.hex()]
    return "ok", int(log["data"][2 + 64 : 2 + 128], 16)


def ours(proof: list[int], n_assets: int, state: list[int]) -> tuple[str, int | None]:
    try:
        return "ok", verify_escape(proof, n_assets, state).amount
    except EscapeProofError as exc:
        return exc.reason, None


def agree(mine: str, theirs: str) -> bool:
    if mine.startswith(OUT_OF_BOUNDS) or theirs.startswith(OWN_REASON):
        return mine.startswith(OUT_OF_BOUNDS) and theirs.startswith(OWN_REASON)
    return mine == theirs


def mutations(
    proof: list[int], n_assets: int, state: list[int], other: list[int]
) -> Iterator[tuple[str, list[int], int, list[int]]]:
    yield "valid", proof, n_assets, state
    for word in (1, len(proof) // 2, len(proof) - 3):
        flipped = list(proof)
        flipped[word] ^= 1 << 91
        yield f"word {word} flipped", flipped, n_assets, state
    yield "nAssets + 1", proof, n_assets + 1, state
    if n_assets:
        yield "nAssets - 1", proof, n_assets - 1, state
    higher = list(state)
    higher[1] += 1
    yield "height", proof, n_assets, higher
    odd = list(proof)
    odd[-1] |= 1 << 8
    yield "odd node index", odd, n_assets, state
    big = list(proof)
    pair = n_assets + 10
    value = ((big[2 * pair] >> 4) << 260) | (FIELD_PRIME << 8)
    big[2 * pair], big[2 * pair + 1] = value >> 256, value & (2**256 - 1)
    yield "node = p", big, n_assets, state
    yield "another position's proof words", other, n_assets, state
    yield "truncated", proof[:-4] + proof[-2:], n_assets, state
    yield "cut short", proof[: 2 * (n_assets + 1)], n_assets, state
    repriced = list(state)
    repriced[-2] += 2**32  # the last price: a valid proof under another state, another amount
    yield "another price", proof, n_assets, repriced


def test_our_verifier_and_the_chains_stand_in_agree_on_valid_and_mutated_proofs(chain: LocalChain) -> None:
    market = synthetic_market(b"agreement")
    keys = [synthetic_stark_key(b"agreement", index) for index in range(5)]
    positions = synthetic_positions(b"agreement", market, keys, first_position_id=900)
    built = build_escape_state(positions, market.funding, market.prices, funding_timestamp=1_700_000_000)
    state = list(built.shared_state)
    compared = 0
    disagreements = []
    ids = sorted(built.proofs)
    for index, position_id in enumerate(ids):
        proof = list(built.proofs[position_id])
        other = list(built.proofs[ids[(index + 1) % len(ids)]])
        for name, p, n, s in mutations(proof, built.n_assets(position_id), state, other):
            mine, amount = ours(p, n, s)
            theirs, their_amount = on_chain(chain, p, n, s)
            compared += 1
            if not agree(mine, theirs) or amount != their_amount:
                disagreements.append(f"position {position_id}, {name}: ours {mine!r}, stand-in {theirs!r}")
            if name == "valid":
                assert mine == "ok" and amount == built.withdrawals[position_id]
    assert compared >= 50
    assert disagreements == []


def test_an_accepted_proof_emits_the_amount_and_fact_we_compute(chain: LocalChain) -> None:
    market = synthetic_market(b"event")
    positions = synthetic_positions(
        b"event", market, [synthetic_stark_key(b"event", 0)], first_position_id=31
    )
    built = build_escape_state(positions, market.funding, market.prices, funding_timestamp=1_700_000_000)
    proof, state = list(built.proofs[31]), list(built.shared_state)
    result = verify_escape(proof, built.n_assets(31), state)
    receipt = send(
        chain.url,
        STRANGER,
        VERIFIER,
        verify_escape_calldata(proof, built.n_assets(31), state),
        gas=20_000_000,
    )
    assert receipt["status"] == "0x1"
    (log,) = [entry for entry in receipt["logs"] if entry["topics"][0] == "0x" + EVENT_ESCAPE_VERIFIED.hex()]
    words = [int(log["data"][2 + 64 * i : 2 + 64 * (i + 1)], 16) for i in range(4)]
    assert words == [result.stark_key, result.amount, int.from_bytes(result.shared_state_hash, "big"), 31]
    is_valid = rpc(
        chain.url, "eth_call", {"to": VERIFIER, "input": "0x6a938567" + result.fact.hex()}, "latest"
    )
    assert int(is_valid, 16) == 1
