"""Fee from simulated gas and the timeout height (``online/v4/fees.py``, ``expiry.py``) on a real serve-v4:
the quoted fee is exactly the chain's minimum, and the timeout height is where the chain stops accepting."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dydx_airgap.online.rehearsal.v4_chain import V4NodeHandle, start_v4_node
from dydx_airgap.online.v4.delivery import Expired, Refused
from dydx_airgap.online.v4.expiry import (
    MAX_EXPIRY_SECONDS,
    MIN_EXPIRY_SECONDS,
    expiry_from,
    parse_duration,
)
from dydx_airgap.online.v4.fees import GAS_ADJUSTMENT, MAX_GAS_LIMIT, gas_limit_for, minimum_fee, quote_fee
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import TESTNET
from dydx_airgap.shared.dydx_v4.tx import TxBody
from dydx_airgap.shared.errors import InputError, RemoteError
from tests.online.test_v4_chain import HEIGHT, OWNER_PUB, USDC, build, deposit, genesis_of, owner_genesis
from tests.online.test_v4_node import client, deliver_fast


@pytest.fixture
def node() -> Iterator[V4NodeHandle]:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle:
        yield handle


def test_the_quoted_fee_is_accepted_and_one_unit_less_is_code_13(node: V4NodeHandle) -> None:
    messages = (deposit(),)
    with client(node) as n:
        quote = quote_fee(n, TxBody(messages), OWNER_PUB, 3, USDC)
        assert quote.gas_limit >= quote.gas_used * GAS_ADJUSTMENT
        assert quote.fee.amount * 40 >= quote.gas_limit  # 0.025 per gas, rounded up
        with pytest.raises(Refused, match="code 13"):
            deliver_fast(n, build(messages, fee=(Coin(USDC, quote.fee.amount - 1),), gas=quote.gas_limit))
        done = deliver_fast(n, build(messages, fee=quote.fee_coins, gas=quote.gas_limit))
    assert done.result.code == 0 and done.result.gas_used <= quote.gas_limit


def test_fees_are_paid_only_in_the_networks_fee_denoms() -> None:
    assert minimum_fee(TESTNET, 200_000, USDC) == Coin(USDC, 5000)
    assert minimum_fee(TESTNET, 3, USDC) == Coin(USDC, 1)  # ceil(0.075)
    assert minimum_fee(TESTNET, 2, TESTNET.native_denom).amount == 2 * 25_000_000_000
    with pytest.raises(InputError, match="paid in USDC"):
        minimum_fee(TESTNET, 1, "uatom")
    for bad in (0, MAX_GAS_LIMIT + 1):
        with pytest.raises(InputError):
            minimum_fee(TESTNET, bad, USDC)


def test_an_implausible_simulation_is_refused() -> None:
    with pytest.raises(RemoteError):
        gas_limit_for(0)
    with pytest.raises(RemoteError, match="refusing"):
        gas_limit_for(MAX_GAS_LIMIT)


def test_expires_in_is_bounded_and_parsed_in_seconds_minutes_or_hours() -> None:
    assert [parse_duration(t) for t in ("600", "600s", "15m", "2h")] == [600, 600, 900, 7200]
    for bad in ("59s", "25h", "0", "-5m", "1d", "10 m", "", "1.5h"):
        with pytest.raises(InputError):
            parse_duration(bad)
    assert (MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS) == (60, 86400)


def test_the_timeout_height_holds_until_the_chain_passes_it() -> None:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis())) as handle:
        with client(handle) as n:
            expiry = expiry_from(n.latest_block().height, 60)
        assert expiry.timeout_height == HEIGHT + 60
        tx = build((deposit(),), timeout=expiry.timeout_height)
        httpx.post(handle.url + "/local/blocks", json={"count": 60})
        with client(handle) as n, pytest.raises(Expired, match="it was not sent"):
            deliver_fast(n, tx, timeout_height=expiry.timeout_height)
        assert handle.chain.counters.broadcasts == 0
        # One block earlier it would still have been accepted: the bound is the chain's, not ours.
        with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis())) as fresh:
            httpx.post(fresh.url + "/local/blocks", json={"count": 59})
            with client(fresh) as n:
                assert n.broadcast_sync(tx).code == 0
