"""Reading the trading key's authenticator id back after the add-authenticator tx is included
(``online/v4/trading_key.py``), on a real serve-v4 whose global id counter the test does not control."""

from __future__ import annotations

import pytest

from dydx_airgap.online.rehearsal.v4_chain import start_v4_node
from dydx_airgap.online.v4.trading_key import read_back
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.networks import TESTNET
from dydx_airgap.shared.errors import RemoteError, VerificationError
from tests.online.test_v4_chain import HOT_PUB, OWNER, OWNER_PUB, build, genesis_of, owner_genesis
from tests.online.test_v4_node import client, deliver_fast


def add_tx(tree: a.Authenticator, sequence: int) -> bytes:
    type_name, data = a.encode_authenticator(tree)
    return build((m.MsgAddAuthenticator(OWNER, type_name, data),), sequence=sequence)


def test_the_id_read_back_is_the_one_the_chain_assigned_to_this_tree() -> None:
    # Someone else's authenticators move the global counter first: the id is not predictable.
    genesis = owner_genesis()
    genesis["next_authenticator_id"] = 40
    with (
        start_v4_node(TESTNET, genesis=genesis_of(genesis), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        loose = add_tx(a.AllOf((a.SignatureVerification(HOT_PUB), a.SubaccountFilter((0,)))), 3)
        deliver_fast(n, loose)
        tx = add_tx(a.trading_key_recipe(HOT_PUB), 4)
        key = read_back(n, tx, deliver_fast(n, tx).result, HOT_PUB)
        stored = handle.chain.read().authenticators[OWNER]
    type_name, data = a.encode_authenticator(a.trading_key_recipe(HOT_PUB))
    (expected,) = [i for i, x in stored.items() if (x.type, x.config) == (type_name, data)]
    assert (key.authenticator_id, key.owner_address, key.chain_id) == (expected, OWNER, TESTNET.chain_id)
    assert key.authenticator_id == 41 and key.hot_public_key == HOT_PUB
    assert key.verdict.safe and key.same_tree_ids == ()
    assert key.to_json()["hot_public_key"] == HOT_PUB.hex()


def test_the_same_tree_twice_gives_the_newest_id_and_names_the_older_one() -> None:
    with (
        start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        first = add_tx(a.trading_key_recipe(HOT_PUB), 3)
        deliver_fast(n, first)
        second = add_tx(a.trading_key_recipe(HOT_PUB), 4)
        key = read_back(n, second, deliver_fast(n, second).result)
    assert (key.authenticator_id, key.same_tree_ids) == (1, (0,))


def test_a_loose_tree_is_read_back_with_its_unsafe_verdict() -> None:
    with (
        start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        tx = add_tx(a.AllOf((a.SignatureVerification(HOT_PUB), a.SubaccountFilter((0,)))), 3)
        key = read_back(n, tx, deliver_fast(n, tx).result)
    assert not key.verdict.safe and "withdrawals" in key.verdict.reason


def test_another_hot_key_or_another_transactions_result_is_refused() -> None:
    with (
        start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        tx = add_tx(a.trading_key_recipe(HOT_PUB), 3)
        included = deliver_fast(n, tx).result
        with pytest.raises(VerificationError, match="not the hot key"):
            read_back(n, tx, included, OWNER_PUB)
        with pytest.raises(VerificationError, match="not this transaction's"):
            read_back(n, add_tx(a.trading_key_recipe(HOT_PUB), 4), included)


def test_a_tree_the_chain_refused_has_no_id_to_read() -> None:
    unsafe = a.AnyOf((a.SignatureVerification(HOT_PUB), a.MessageFilter((a.PLACE_ORDER,))))
    with (
        start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        tx = add_tx(unsafe, 3)
        with pytest.raises(RemoteError, match="failed: code 18"):
            deliver_fast(n, tx)
        assert n.authenticators(OWNER) == ()
