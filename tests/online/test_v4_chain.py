"""The local dYdX Chain stand-in (``serve-v4``), over real HTTP on 127.0.0.1.

Transactions are built with shared/dydx_v4 and signed by the cold side's ``sign_direct``; the official
client's vectors are replayed byte for byte. Blocks are made on demand (``POST /local/blocks``) so every
height is the test's choice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dydx_airgap.offline.keys.v4_account import sign_direct
from dydx_airgap.online.rehearsal.v4_chain import (
    V4NodeHandle,
    apply_genesis,
    parse_fault_spec,
    start_v4_node,
)
from dydx_airgap.online.rehearsal.v4_chain.state import ChainState
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.address import dydx_address
from dydx_airgap.shared.dydx_v4.chain_tx import (
    ChainAuthInfo,
    ChainFee,
    ChainTxBody,
    TxExtension,
    encode_chain_tx,
)
from dydx_airgap.shared.dydx_v4.clob import MsgCancelOrder, MsgPlaceOrder, Order, OrderId
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import TESTNET, network_by_chain_id
from dydx_airgap.shared.dydx_v4.signature import SECP256K1_N
from dydx_airgap.shared.dydx_v4.tx import SignDoc, SignerInfo
from dydx_airgap.shared.secret import Secret
from tests.dydx_v4_vectors import all_txs, v4

USDC = TESTNET.usdc_denom
HEIGHT = 1000
OWNER_KEY = hashlib.sha256(b"v4-chain test owner").digest()
HOT_KEY = hashlib.sha256(b"v4-chain test hot key").digest()


def pubkey(private: bytes) -> bytes:
    import coincurve

    return bytes(coincurve.PrivateKey(private).public_key.format(compressed=True))


OWNER_PUB, HOT_PUB = pubkey(OWNER_KEY), pubkey(HOT_KEY)
OWNER = dydx_address(OWNER_PUB)
OTHER = dydx_address(pubkey(hashlib.sha256(b"someone else").digest()))


def genesis_of(document: dict[str, Any]) -> Any:
    def apply(state: ChainState) -> ChainState:
        return apply_genesis(state, document)

    return apply


def owner_genesis(**extra: Any) -> dict[str, Any]:
    account = {
        "address": OWNER,
        "account_number": 42,
        "sequence": 3,
        "balances": [{"denom": USDC, "amount": "100000000"}],
        "subaccounts": [{"number": 0, "usdc_quantums": "50000000"}],
    }
    account.update(extra)
    return {"height": HEIGHT, "accounts": [account]}


@pytest.fixture
def node() -> Iterator[V4NodeHandle]:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis())) as handle:
        yield handle


def build(
    messages: tuple[Any, ...],
    *,
    sequence: int = 3,
    key: bytes = OWNER_KEY,
    fee: tuple[Coin, ...] = (Coin(USDC, 5000),),
    gas: int = 200_000,
    memo: str = "",
    timeout: int = 0,
    selected: tuple[int, ...] | None = None,
    chain_id: str = TESTNET.chain_id,
    account_number: int = 42,
) -> bytes:
    body = ChainTxBody(messages, memo, timeout, None if selected is None else TxExtension(selected))
    auth = ChainAuthInfo(SignerInfo(pubkey(key), sequence), ChainFee(fee, gas))
    doc = SignDoc(body.encode(), auth.encode(), chain_id, account_number)
    return encode_chain_tx(body, auth, sign_direct(Secret(key), doc.encode()))


def broadcast(handle: V4NodeHandle, tx: bytes) -> dict[str, Any]:
    body = {"tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_SYNC"}
    response = httpx.post(handle.url + "/cosmos/tx/v1beta1/txs", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["tx_response"]
    return result


def block(handle: V4NodeHandle) -> None:
    assert httpx.post(handle.url + "/local/blocks", json={"count": 1}).status_code == 200


def included(handle: V4NodeHandle, txhash: str) -> dict[str, Any]:
    response = httpx.get(f"{handle.url}/cosmos/tx/v1beta1/txs/{txhash}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["tx_response"]
    return result


def get(handle: V4NodeHandle, path: str) -> Any:
    response = httpx.get(handle.url + path)
    assert response.status_code == 200, response.text
    return response.json()


def sequence_of(handle: V4NodeHandle, address: str = OWNER) -> int:
    return int(get(handle, f"/cosmos/auth/v1beta1/accounts/{address}")["account"]["sequence"])


def deposit(quantums: int = 1_000_000) -> m.MsgDepositToSubaccount:
    return m.MsgDepositToSubaccount(OWNER, m.SubaccountId(OWNER, 0), 0, quantums)


def withdraw(quantums: int = 1_000_000) -> m.MsgWithdrawFromSubaccount:
    return m.MsgWithdrawFromSubaccount(m.SubaccountId(OWNER, 0), OTHER, 0, quantums)


# ---- the official client's transactions ----------------------------------------------------------------


def _vector_genesis(tx: dict[str, Any]) -> dict[str, Any]:
    request = tx["request"]
    network = network_by_chain_id(request["chain_id"])
    coins = {network.usdc_denom: 10**12, network.native_denom: 10**24}
    authenticators = []
    for message in request["messages"]:
        if message["type_url"] == m.MsgRemoveAuthenticator.TYPE_URL:
            config = base64.b64encode(b"/dydxprotocol.clob.MsgPlaceOrder").decode()
            authenticators.append(
                {"id": message["value"]["id"], "type": "MessageFilter", "config_base64": config}
            )
    timeout = request["timeout_height"]
    return {
        "height": timeout - 5 if timeout else HEIGHT,
        "accounts": [
            {
                "address": request["signer_address"],
                "account_number": request["account_number"],
                "sequence": request["sequence"],
                "balances": [{"denom": d, "amount": str(v)} for d, v in sorted(coins.items())],
                "subaccounts": [{"number": 0, "usdc_quantums": str(10**12)}],
                "authenticators": authenticators,
            }
        ],
    }


def _refused_by_the_chain() -> set[str]:
    data = v4()
    cases = data["unsafe_authenticators"] + data["safe_authenticators"]
    return {c["tx_if_signed"]["name"] for c in cases if not c["chain_accepts"]}


@pytest.mark.parametrize("tx", all_txs(), ids=lambda t: t["name"])
def test_every_vector_transaction_is_accepted_and_included(tx: dict[str, Any]) -> None:
    """The vectors' trees the real chain refuses (chain_accepts false) pass CheckTx and fail in the block."""
    network = network_by_chain_id(tx["request"]["chain_id"])
    with start_v4_node(network, genesis=genesis_of(_vector_genesis(tx))) as handle:
        sync = broadcast(handle, bytes.fromhex(tx["tx_raw"]))
        assert (sync["code"], sync["txhash"]) == (0, tx["txhash"]), sync["raw_log"]
        block(handle)
        result = included(handle, tx["txhash"])
        expected = 18 if tx["name"] in _refused_by_the_chain() else 0
        assert result["code"] == expected, result["raw_log"]
        assert sequence_of(handle, tx["request"]["signer_address"]) == tx["request"]["sequence"] + 1


# ---- CheckTx refusals, each with the chain's code and text ---------------------------------------------


def test_sequence_must_match_with_the_chains_text_and_code_32(node: V4NodeHandle) -> None:
    result = broadcast(node, build((deposit(),), sequence=4))
    assert (result["code"], result["codespace"]) == (32, "sdk")
    assert result["raw_log"] == "account sequence mismatch, expected 3, got 4: incorrect account sequence"


def test_signature_for_another_chain_or_account_number_is_refused_with_code_4(node: V4NodeHandle) -> None:
    for tx in (build((deposit(),), chain_id="dydx-mainnet-1"), build((deposit(),), account_number=43)):
        result = broadcast(node, tx)
        assert result["code"] == 4
        assert result["raw_log"].startswith(
            "signature verification failed; please verify account number (42)"
        )
    assert sequence_of(node) == 3


def test_high_s_twin_of_a_valid_signature_is_refused(node: V4NodeHandle) -> None:
    tx = build((deposit(),))
    r, s = tx[-64:-32], int.from_bytes(tx[-32:], "big")
    twin = tx[:-64] + r + (SECP256K1_N - s).to_bytes(32, "big")
    assert broadcast(node, twin)["code"] == 4
    assert broadcast(node, tx)["code"] == 0


def test_a_key_that_is_not_the_signers_is_refused_with_code_8(node: V4NodeHandle) -> None:
    result = broadcast(node, build((deposit(),), key=HOT_KEY))
    assert result["code"] == 8 and "pubKey does not match signer address" in result["raw_log"]


def test_unknown_protobuf_field_is_a_parse_error_code_2(node: V4NodeHandle) -> None:
    tx = build((deposit(),))
    result = broadcast(node, tx + b"\x20\x01")  # TxRaw field 4: unknown
    assert (result["code"], result["codespace"]) == (2, "sdk")
    assert "unknown field 4" in result["raw_log"]


def test_timeout_height_below_the_block_is_code_30(node: V4NodeHandle) -> None:
    result = broadcast(node, build((deposit(),), timeout=HEIGHT - 1))
    assert result["code"] == 30
    assert result["raw_log"] == f"block height: {HEIGHT}, timeout height: {HEIGHT - 1}: tx timeout height"


def test_fee_below_the_minimum_gas_price_or_in_another_denom_is_code_13(node: V4NodeHandle) -> None:
    low = broadcast(node, build((deposit(),), fee=(Coin(USDC, 4999),)))
    assert low["code"] == 13 and low["raw_log"].startswith(f"insufficient fees; got: 4999{USDC} required: ")
    other = broadcast(node, build((deposit(),), fee=(Coin("uatom", 10**9),)))
    assert other["code"] == 13


def test_memo_over_256_characters_is_code_12(node: V4NodeHandle) -> None:
    result = broadcast(node, build((deposit(),), memo="x" * 257))
    assert result["code"] == 12
    assert result["raw_log"] == (
        "maximum number of characters is 256 but received 257 characters: memo too large"
    )


def test_fee_the_account_cannot_pay_is_code_5(tmp_path: Path) -> None:
    poor = owner_genesis(balances=[{"denom": USDC, "amount": "4999"}])
    with start_v4_node(TESTNET, genesis=genesis_of(poor)) as handle:
        result = broadcast(handle, build((deposit(1),)))
        assert result["code"] == 5 and "insufficient funds" in result["raw_log"]


def test_deposit_beyond_the_bank_balance_fails_in_the_block_with_fee_and_sequence_spent(
    node: V4NodeHandle,
) -> None:
    sync = broadcast(node, build((deposit(10**12),)))
    assert sync["code"] == 0  # CheckTx runs no message
    block(node)
    result = included(node, sync["txhash"])
    assert result["code"] == 5
    assert result["raw_log"].startswith("failed to execute message; message index: 0: spendable balance")
    assert sequence_of(node) == 4
    balances = get(node, f"/cosmos/bank/v1beta1/balances/{OWNER}")["balances"]
    assert balances == [{"denom": USDC, "amount": str(100_000_000 - 5000)}]


def test_withdrawal_beyond_the_subaccount_fails_with_code_5(node: V4NodeHandle) -> None:
    sync = broadcast(node, build((withdraw(50_000_001),)))
    block(node)
    assert included(node, sync["txhash"])["code"] == 5


# ---- SYNC, inclusion, duplicates -----------------------------------------------------------------------


def test_sync_then_inclusion_in_the_next_block_and_duplicates_get_19_then_32(node: V4NodeHandle) -> None:
    tx = build((deposit(),))
    sync = broadcast(node, tx)
    assert sync["code"] == 0
    assert httpx.get(f"{node.url}/cosmos/tx/v1beta1/txs/{sync['txhash']}").status_code == 404
    assert broadcast(node, tx)["code"] == 19
    assert broadcast(node, build((deposit(),), sequence=4))["code"] == 0  # the check state moved on
    block(node)
    result = included(node, sync["txhash"])
    assert (result["code"], result["height"]) == (0, str(HEIGHT + 1))
    assert broadcast(node, tx)["code"] == 32
    sub = get(node, f"/dydxprotocol/subaccounts/subaccount/{OWNER}/0")["subaccount"]
    assert sub["asset_positions"][0]["quantums"] == str(50_000_000 + 2_000_000)


def test_timestamp_nonces_skip_the_sequence_and_are_used_once(node: V4NodeHandle) -> None:
    now = node.chain.read().time_ms
    tx = build((deposit(),), sequence=now)
    assert broadcast(node, tx)["code"] == 0
    block(node)
    assert sequence_of(node) == 3
    again = broadcast(node, build((deposit(2),), sequence=now))
    assert again["code"] == 32 and again["raw_log"].startswith(f"timestamp nonce {now} rejected")
    stale = broadcast(node, build((deposit(3),), sequence=now - 60_000))
    assert stale["raw_log"].startswith(f"timestamp nonce {now - 60_000} not within valid time window")


# ---- authenticators and hot keys -----------------------------------------------------------------------


def add_authenticator(handle: V4NodeHandle, tree: a.Authenticator, sequence: int = 3) -> int:
    type_name, data = a.encode_authenticator(tree)
    sync = broadcast(handle, build((m.MsgAddAuthenticator(OWNER, type_name, data),), sequence=sequence))
    assert sync["code"] == 0, sync["raw_log"]
    block(handle)
    assert included(handle, sync["txhash"])["code"] == 0
    listed = get(handle, f"/dydxprotocol/accountplus/authenticators/{OWNER}")["account_authenticators"]
    match = [x for x in listed if x["type"] == type_name and base64.b64decode(x["config"]) == data]
    return int(match[-1]["id"])


def short_term_order(good_til_block: int, number: int = 0) -> MsgPlaceOrder:
    oid = OrderId(m.SubaccountId(OWNER, number), 7, 0, 0)
    return MsgPlaceOrder(Order(oid, 1, 1_000_000, 5_000_000, good_til_block=good_til_block))


def test_hot_key_under_subaccount_filter_can_withdraw_but_not_under_the_recipe(node: V4NodeHandle) -> None:
    # Spec headline 1: SubaccountFilter passes every message that is not an order.
    loose = add_authenticator(node, a.AllOf((a.SignatureVerification(HOT_PUB), a.SubaccountFilter((0,)))))
    recipe = add_authenticator(node, a.trading_key_recipe(HOT_PUB), sequence=4)
    assert (loose, recipe) == (0, 1)  # the global counter
    refused = broadcast(node, build((withdraw(),), key=HOT_KEY, sequence=5, selected=(recipe,)))
    assert refused["code"] == 4
    assert refused["raw_log"].startswith(
        f"authentication failed for message 0, authenticator id {recipe}, type AllOf"
    )
    sync = broadcast(node, build((withdraw(),), key=HOT_KEY, sequence=5, selected=(loose,)))
    assert sync["code"] == 0, sync["raw_log"]
    block(node)
    assert included(node, sync["txhash"])["code"] == 0
    assert get(node, f"/cosmos/bank/v1beta1/balances/{OTHER}")["balances"] == [
        {"denom": USDC, "amount": "1000000"}
    ]


def test_hot_key_short_term_order_under_the_recipe_is_accepted_without_a_sequence_bump(
    node: V4NodeHandle,
) -> None:
    recipe = add_authenticator(node, a.trading_key_recipe(HOT_PUB))
    height = HEIGHT + 1
    order = build(
        (short_term_order(height + 10),), key=HOT_KEY, sequence=0, selected=(recipe,), fee=(), gas=0
    )
    assert broadcast(node, order)["code"] == 0
    assert sequence_of(node) == 4
    wrong_subaccount = build(
        (short_term_order(height + 10, 1),), key=HOT_KEY, selected=(recipe,), fee=(), gas=0
    )
    assert broadcast(node, wrong_subaccount)["code"] == 4
    too_far = build((short_term_order(height + 42),), key=HOT_KEY, selected=(recipe,), fee=(), gas=0)
    assert (broadcast(node, too_far)["code"], broadcast(node, too_far)["codespace"]) == (11, "clob")
    cancel = MsgCancelOrder(short_term_order(height + 10).order_id, good_til_block=height + 5)
    assert broadcast(node, build((cancel,), key=HOT_KEY, selected=(recipe,), fee=(), gas=0))["code"] == 0
    kinds = [o["kind"] for o in get(node, "/local/orders")["orders"]]
    assert kinds == ["place", "cancel"]


def test_a_tree_without_a_signature_on_every_path_fails_in_the_block(node: V4NodeHandle) -> None:
    tree = a.AnyOf((a.SignatureVerification(HOT_PUB), a.MessageFilter((a.PLACE_ORDER,))))
    type_name, data = a.encode_authenticator(tree)
    sync = broadcast(node, build((m.MsgAddAuthenticator(OWNER, type_name, data),)))
    block(node)
    result = included(node, sync["txhash"])
    assert result["code"] == 18 and "does not require signature verification" in result["raw_log"]
    assert get(node, f"/dydxprotocol/accountplus/authenticators/{OWNER}")["account_authenticators"] == []


def test_removed_authenticator_no_longer_authorises_the_hot_key(node: V4NodeHandle) -> None:
    ident = add_authenticator(node, a.AllOf((a.SignatureVerification(HOT_PUB), a.SubaccountFilter((0,)))))
    sync = broadcast(node, build((m.MsgRemoveAuthenticator(OWNER, ident),), sequence=4))
    block(node)
    assert included(node, sync["txhash"])["code"] == 0
    result = broadcast(node, build((withdraw(),), key=HOT_KEY, sequence=5, selected=(ident,)))
    assert result["code"] == 1 and result["codespace"] == "accountplus"


# ---- queries, bad input, faults ------------------------------------------------------------------------


def test_queries_answer_in_proto3_json_with_string_numbers(node: V4NodeHandle) -> None:
    account = get(node, f"/cosmos/auth/v1beta1/accounts/{OWNER}")["account"]
    assert account == {
        "@type": "/cosmos.auth.v1beta1.BaseAccount",
        "address": OWNER,
        "pub_key": None,
        "account_number": "42",
        "sequence": "3",
    }
    assert get(node, "/dydxprotocol/accountplus/params") == {"params": {"is_smart_account_active": True}}
    latest = get(node, "/cosmos/base/tendermint/v1beta1/blocks/latest")["block"]["header"]
    assert (latest["height"], latest["chain_id"]) == (str(HEIGHT), TESTNET.chain_id)
    unsigned = build((deposit(),))
    gas = int(
        httpx.post(
            node.url + "/cosmos/tx/v1beta1/simulate", json={"tx_bytes": base64.b64encode(unsigned).decode()}
        ).json()["gas_info"]["gas_used"]
    )
    assert 0 < gas < 200_000
    assert httpx.get(f"{node.url}/cosmos/auth/v1beta1/accounts/{OTHER}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", json.dumps({"tx_bytes": "%%%"}).encode(), json.dumps({"mode": "x"}).encode()],
)
def test_malformed_requests_get_the_gateways_error_never_a_500(node: V4NodeHandle, body: bytes) -> None:
    response = httpx.post(node.url + "/cosmos/tx/v1beta1/txs", content=body)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


def test_garbage_tx_bytes_are_a_parse_error_not_a_crash(node: V4NodeHandle) -> None:
    for garbage in (b"\xff" * 7, b"", b"\x0a\x05abc"):
        if garbage:
            assert broadcast(node, garbage)["code"] == 2
    assert httpx.get(node.url + "/cosmos/auth/v1beta1/accounts/not-an-address").status_code == 400


def test_a_dropped_answer_leaves_the_tx_in_the_mempool_and_a_resend_gets_19() -> None:
    plan = parse_fault_spec("at=1:drop_after_commit,at=3:duplicate")
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), faults=plan) as handle:
        tx = build((deposit(),))
        body = {"tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_SYNC"}
        with pytest.raises(httpx.TransportError):
            httpx.post(handle.url + "/cosmos/tx/v1beta1/txs", json=body)
        assert broadcast(handle, tx)["code"] == 19
        second = build((deposit(),), sequence=4)
        assert broadcast(handle, second)["code"] == 19  # the answer lies; the tx went in
        block(handle)
        assert sequence_of(handle) == 5
        assert get(handle, "/local/stats")["blocks"] == 1
