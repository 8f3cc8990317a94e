"""The relay's dYdX Chain client (``online/v4/node.py``, ``delivery.py``, ``codes.py``) against a real
``serve-v4`` on 127.0.0.1, its fault injection included, and against a lying node for malformed answers."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.rehearsal.v4_chain import V4NodeHandle, parse_fault_spec, start_v4_node
from dydx_airgap.online.relay.target import parse_node_url
from dydx_airgap.online.v4.codes import explain, explained_codes
from dydx_airgap.online.v4.delivery import Delivery, Expired, Refused, deliver
from dydx_airgap.online.v4.node import V4Node
from dydx_airgap.online.v4.proto3_json import MalformedAnswer
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import MAINNET, TESTNET
from dydx_airgap.shared.dydx_v4.tx import tx_hash
from dydx_airgap.shared.errors import AirgapError, InputError, PolicyError, RemoteError
from tests.online.test_v4_chain import (
    HEIGHT,
    OTHER,
    OWNER,
    USDC,
    build,
    deposit,
    genesis_of,
    owner_genesis,
)

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


def client(handle_or_url: V4NodeHandle | str, network: Any = TESTNET, **kwargs: Any) -> V4Node:
    url = handle_or_url if isinstance(handle_or_url, str) else handle_or_url.url
    return V4Node(parse_node_url(url), network, retry=FAST, **kwargs)


@pytest.fixture
def node() -> Iterator[V4NodeHandle]:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis())) as handle:
        yield handle


# ---- the host rule --------------------------------------------------------------------------------------


def test_plain_http_is_refused_for_a_remote_node_and_allowed_on_loopback() -> None:
    with pytest.raises(PolicyError, match="refusing plain HTTP"):
        parse_node_url("http://dydx-rest.example.com")
    assert parse_node_url("http://127.0.0.1:1317").loopback
    assert parse_node_url("http://[::1]:1317/").base == "http://[::1]:1317"
    hosted = parse_node_url("https://rest.example.com/dydx/KEY123/")
    assert (hosted.origin, hosted.base) == (
        "https://rest.example.com",
        "https://rest.example.com/dydx/KEY123",
    )
    for bad in ("ftp://x", "https://", "https://u:p@x", "https://x/?key=1", "nonsense"):
        with pytest.raises(InputError):
            parse_node_url(bad)


# ---- reads, checked against the node's own state ----------------------------------------------------------


def test_reads_return_what_the_chain_holds(node: V4NodeHandle) -> None:
    state = node.chain.read()
    with client(node) as n:
        account = n.account(OWNER)
        assert account is not None
        stored = state.accounts[OWNER]
        assert (account.account_number, account.sequence, account.pub_key) == (
            stored.number,
            stored.sequence,
            None,
        )
        block = n.latest_block()
        assert (block.chain_id, block.height) == (TESTNET.chain_id, state.height)
        assert n.smart_accounts_active() is state.smart_account_active
        assert n.balances(OWNER) == tuple(state.coins(OWNER))
        assert n.balance(OWNER, USDC) == state.balances[OWNER][USDC]
        sub = n.subaccount(OWNER, 0)
        assert (sub.usdc_quantums, sub.perpetual_positions) == (state.subaccounts[(OWNER, 0)], 0)
        assert n.subaccount(OWNER, 7).usdc_quantums == 0
        assert n.authenticators(OWNER) == ()
        assert 0 < n.simulate(build((deposit(),))) < 200_000


def test_an_address_that_never_received_funds_has_no_account(node: V4NodeHandle) -> None:
    with client(node) as n:
        assert n.account(OTHER) is None
        assert n.tx("AB" * 32) is None


def test_a_node_of_another_chain_is_refused(node: V4NodeHandle) -> None:
    with client(node, MAINNET) as n, pytest.raises(RemoteError, match="serves chain 'dydx-testnet-4'"):
        n.latest_block()


def test_a_wrong_base_path_is_an_error_not_a_missing_account(node: V4NodeHandle) -> None:
    with client(node.url + "/not-the-lcd") as n, pytest.raises(RemoteError, match="does not serve"):
        n.account(OWNER)


def test_simulate_of_a_transaction_the_node_cannot_decode_is_the_nodes_refusal(node: V4NodeHandle) -> None:
    with client(node) as n, pytest.raises(RemoteError, match="HTTP 400"):
        n.simulate(b"\xff\x01")


# ---- a lying node: malformed answers are typed, one-line errors ----------------------------------------


def _valid_account() -> dict[str, Any]:
    return {
        "account": {
            "@type": "/cosmos.auth.v1beta1.BaseAccount",
            "address": OWNER,
            "pub_key": None,
            "account_number": "42",
            "sequence": "3",
        }
    }


def _with(change: dict[str, Any]) -> bytes:
    document = _valid_account()
    document["account"].update(change)
    return json.dumps(document).encode()


LIES: dict[str, bytes] = {
    "not JSON": b"{account",
    "a JSON array": b"[]",
    "NaN": b'{"account": NaN}',
    "a repeated key": b'{"account": {}, "account": {}}',
    "sequence as a JSON number": _with({"sequence": 3}),
    "a negative account number": _with({"account_number": "-1"}),
    "sequence above uint64": _with({"sequence": str(2**64)}),
    "a leading zero": _with({"sequence": "03"}),
    "another address": _with({"address": OTHER}),
    "a module account": _with({"@type": "/cosmos.auth.v1beta1.ModuleAccount"}),
    "a pub_key of 32 bytes": _with(
        {"pub_key": {"@type": "/cosmos.crypto.secp256k1.PubKey", "key": "A" * 43 + "="}}
    ),
    "sequence missing": json.dumps(
        {"account": {k: v for k, v in _valid_account()["account"].items() if k != "sequence"}}
    ).encode(),
}


class _LyingNode(BaseHTTPRequestHandler):
    answer = b""

    def do_GET(self) -> None:
        body = type(self).answer
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def liar() -> Iterator[tuple[str, type[_LyingNode]]]:
    handler = type("Handler", (_LyingNode,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_malformed_account_answer_is_a_typed_one_line_error(liar: tuple[str, Any], lie: str) -> None:
    url, handler = liar
    handler.answer = LIES[lie]
    with client(url) as n, pytest.raises(MalformedAnswer) as caught:
        n.account(OWNER)
    assert "\n" not in caught.value.message and caught.value.message.startswith(f"account {OWNER}")


def test_malformed_block_tx_and_broadcast_answers_are_typed_errors(liar: tuple[str, Any]) -> None:
    url, handler = liar
    tx = build((deposit(),))
    other = tx_hash(build((deposit(2),)))
    answers = [
        ("latest_block", (), {"block": {"header": {"chain_id": TESTNET.chain_id, "height": 5}}}),
        ("smart_accounts_active", (), {"params": {"is_smart_account_active": "true"}}),
        ("balances", (OWNER,), {"balances": [{"denom": USDC, "amount": 5}]}),
        (
            "subaccount",
            (OWNER, 0),
            {"subaccount": {"id": {"owner": OTHER, "number": 0}, "asset_positions": []}},
        ),
        (
            "authenticators",
            (OWNER,),
            {"account_authenticators": [{"id": "1", "type": "AllOf", "config": "%%"}]},
        ),
        ("simulate", (tx,), {"gas_info": {"gas_used": 1000}}),
        (
            "broadcast_sync",
            (tx,),
            {
                "tx_response": {
                    "txhash": other,
                    "height": "0",
                    "code": 0,
                    "codespace": "",
                    "raw_log": "",
                    "gas_wanted": "0",
                    "gas_used": "0",
                }
            },
        ),
        (
            "tx",
            (tx_hash(tx),),
            {
                "tx_response": {
                    "txhash": tx_hash(tx),
                    "height": "0",
                    "code": 0,
                    "codespace": "",
                    "raw_log": "",
                    "gas_wanted": "0",
                    "gas_used": "0",
                }
            },
        ),
    ]
    with client(url) as n:
        for method, args, answer in answers:
            handler.answer = json.dumps(answer).encode()
            with pytest.raises(MalformedAnswer) as caught:
                getattr(n, method)(*args)
            assert "\n" not in caught.value.message, method


def test_control_characters_in_a_nodes_error_text_are_escaped(liar: tuple[str, Any]) -> None:
    line = explain(32, "sdk", "account sequence mismatch\x1b[2J\nforged line")
    assert "\x1b" not in line and "\n" not in line and "\\x1b" in line


def test_every_code_of_spec_b6_has_its_own_explanation() -> None:
    for code in (4, 5, 11, 12, 13, 19, 30, 32):
        assert ("sdk", code) in explained_codes()
    lines = {explain(code, "sdk", "") for code in (4, 5, 11, 12, 13, 19, 30, 32)}
    assert len(lines) == 8


# ---- delivery ---------------------------------------------------------------------------------------------


def deliver_fast(n: V4Node, tx: bytes, **kwargs: Any) -> Delivery:
    return deliver(n, tx, poll_interval=0.02, wait_seconds=30, **kwargs)


def test_a_signed_deposit_is_delivered_once_and_included() -> None:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle:
        tx = build((deposit(),))
        with client(handle) as n:
            done = deliver_fast(n, tx)
        assert (done.txhash, done.result.code, done.sends) == (tx_hash(tx), 0, 1)
        assert done.result.height > HEIGHT
        assert handle.chain.read().subaccounts[(OWNER, 0)] == 50_000_000 + 1_000_000
        assert handle.chain.counters.broadcasts == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"sequence": 4}, 32), ({"fee": (Coin(USDC, 10),)}, 13), ({"chain_id": "dydx-mainnet-1"}, 4)],
)
def test_a_checktx_refusal_is_one_explained_line_and_nothing_is_resent(
    node: V4NodeHandle, kwargs: dict[str, Any], code: int
) -> None:
    with client(node) as n, pytest.raises(Refused) as caught:
        deliver_fast(n, build((deposit(),), **kwargs))
    assert f"code {code} (sdk)" in caught.value.message and "\n" not in caught.value.message
    assert node.chain.counters.broadcasts == 1


def test_a_transaction_past_its_timeout_height_is_not_sent(node: V4NodeHandle) -> None:
    with client(node) as n, pytest.raises(Expired, match="it was not sent"):
        deliver_fast(n, build((deposit(),), timeout=HEIGHT), timeout_height=HEIGHT)
    assert node.chain.counters.broadcasts == 0


def test_a_failed_inclusion_reports_the_block_result() -> None:
    with (
        start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle,
        client(handle) as n,
        pytest.raises(AirgapError, match=r"included in block \d+ and failed: code 5"),
    ):
        deliver_fast(n, build((deposit(10**12),)))


# ---- fault schedules: never twice, every ambiguous send followed by a status query ---------------------

SCHEDULES = {
    "timeout after send": "at=1:late_after_commit,late_s=1.5",
    "answer dropped after commit": "at=1:drop_after_commit",
    "dropped before the handler": "at=1:drop",
    "HTTP 500": "at=1:500",
    "HTTP 503": "at=1:503",
    "duplicate SYNC answer": "at=1:duplicate",
    "every fault, seeded": (
        "seed=17,500=0.1,503=0.1,drop=0.1,drop_after_commit=0.1,late_after_commit=0.1,duplicate=0.1,late_s=1.5"
    ),
    "reads failing too, seeded": "seed=5,kinds=query,500=0.05,503=0.05,drop=0.05",
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_under_faults_no_transaction_reaches_the_node_twice(name: str, figure: Any) -> None:
    spec = SCHEDULES[name]
    count = 6 if "seeded" in name else 1
    with start_v4_node(
        TESTNET, genesis=genesis_of(owner_genesis()), faults=parse_fault_spec(spec), block_seconds=0.1
    ) as handle:
        deliveries = []
        with client(handle, timeout=0.75, connect_timeout=0.75) as n:
            for index in range(count):
                deliveries.append(deliver_fast(n, build((deposit(index + 1),), sequence=3 + index)))
        injected = Counter(fault for _, _, fault in handle._server.config.app.injected)
        counters = handle.chain.counters
        stats = httpx.get(handle.url + "/local/stats").json()

    steps = [step for d in deliveries for step in d.steps]
    ambiguous = 0
    for d in deliveries:
        for i, step in enumerate(d.steps):
            if step.outcome == "ambiguous":
                ambiguous += 1
                assert d.steps[i + 1].action == "status", (name, d.steps)
        assert d.result.code == 0
    # Every transaction reached the node's CheckTx exactly once: no copy in the mempool, none after inclusion.
    assert counters.broadcasts == count, (name, steps)
    assert (counters.duplicates, counters.by_code.get(32, 0), stats["blocks"] > 0) == (0, 0, True)
    assert sum(injected.values()) >= 1
    sends = sum(d.sends for d in deliveries)
    figure(
        f"v4 delivery [{name}: {spec}]: {count} tx, faults injected {dict(sorted(injected.items()))}, "
        f"{sends} sends, {ambiguous} ambiguous each followed by a status query, "
        f"reached the node twice: {counters.broadcasts - count}"
    )


def test_a_transaction_already_included_is_reported_included_not_refused() -> None:
    with start_v4_node(TESTNET, genesis=genesis_of(owner_genesis()), block_seconds=0.1) as handle:
        tx = build((deposit(),))
        with client(handle) as n:
            first = deliver_fast(n, tx)
            again = deliver_fast(n, tx)  # another relay run with the same signed bytes: code 32, then status
        assert again.result == first.result
        assert [s.action for s in again.steps] == ["send", "status"]
        assert handle.chain.read().subaccounts[(OWNER, 0)] == 50_000_000 + 1_000_000
