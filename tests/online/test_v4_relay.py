"""`dydx-relay v4 prepare` and `v4 broadcast` end to end: the real relay and cold CLIs in subprocesses, a real
``serve-v4`` on 127.0.0.1 making a block every 0.1 s, the cold key from a mnemonic file.

What must hold (issue 17): the cold side's ``sign v4`` accepts every request the relay prepares; the relay
broadcasts once and never twice; after add-trading-key it reads the authenticator id back and the hot key
trades under it; a hot key's stateful order between prepare and broadcast makes broadcast refuse with the
re-sign message, a short-term order does not; bad input is one line and sends nothing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dydx_airgap.online.rehearsal.v4_chain import V4NodeHandle, parse_fault_spec, start_v4_node
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.clob import (
    ORDER_FLAGS_LONG_TERM,
    MsgCancelOrder,
    MsgPlaceOrder,
    Order,
    OrderId,
)
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import TESTNET
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import TEST_MNEMONIC, Result, assert_clean_failure, run_tool, write_secret
from tests.online.test_v4_chain import HOT_KEY, HOT_PUB, USDC, broadcast, build, genesis_of

ACCOUNT_NUMBER = 42  # what tests.online.test_v4_chain.build signs for
BANK = 50_000_000
SUBACCOUNT = 20_000_000


@dataclass
class Setup:
    node: V4NodeHandle
    dir: Path
    public: Path
    address: str
    mnemonic: Path
    state: Path

    def relay(self, *args: str | Path) -> Result:
        return run_tool("dydx-relay", "v4", *args, "--state", self.state, cwd=self.dir)

    def prepare(self, kind: str, out: str, *args: str | Path) -> Result:
        return self.relay(
            "prepare", kind, "--node", self.node.url, "--public-key", self.public, "--out", out, *args
        )

    def sign(self, request: str, out: str) -> Result:
        return run_tool(
            "dydx-offline", "sign", "v4", request, "--mnemonic-file", self.mnemonic, "--v4-network", "testnet",
            "--out", out, "--yes", "--evidence-log", "log.jsonl", cwd=self.dir,
        )  # fmt: skip

    def broadcast(self, signed: str, *args: str | Path) -> Result:
        return self.relay("broadcast", signed, "--node", self.node.url, "--poll", "0.05", *args)

    def get(self, path: str) -> Any:
        response = httpx.get(self.node.url + path)
        assert response.status_code == 200, response.text
        return response.json()

    def sequence(self) -> int:
        return int(self.get(f"/cosmos/auth/v1beta1/accounts/{self.address}")["account"]["sequence"])

    def sends(self) -> int:
        return int(self.get("/local/stats")["broadcasts"])

    def through(self, kind: str, *args: str | Path) -> Result:
        """prepare → sign on the cold side → broadcast; every step must succeed."""
        prepared = self.prepare(kind, f"req-{kind}.json", *args)
        assert prepared.code == 0, prepared
        signed = self.sign(f"req-{kind}.json", f"signed-{kind}.json")
        assert signed.code == 0, signed
        return self.broadcast(f"signed-{kind}.json")


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    base = tmp_path_factory.mktemp("v4-cold")
    mnemonic = write_secret(base / "mn", TEST_MNEMONIC)
    vault_pass = write_secret(base / "vp", "vault pass phrase")
    r = run_tool(
        "dydx-offline", "derive-v4", "--mnemonic-file", mnemonic, "--v4-network", "testnet", "--out", base / "d",
        "--vault-password-file", vault_pass,
    )  # fmt: skip
    assert r.code == 0, r.err
    public = base / "d" / "v4-public-dydx-testnet-4-0000.json"
    return mnemonic, public, decode_payload(public.read_bytes()).body["address"]


@contextmanager
def running(tmp_path: Path, derived: tuple[Path, Path, str], faults: str | None = None) -> Iterator[Setup]:
    mnemonic, public, address = derived
    genesis = {
        "height": 5000,
        "accounts": [
            {
                "address": address,
                "account_number": ACCOUNT_NUMBER,
                "sequence": 0,
                "balances": [{"denom": USDC, "amount": str(BANK)}],
                "subaccounts": [{"number": 0, "usdc_quantums": str(SUBACCOUNT)}],
            }
        ],
    }
    plan = parse_fault_spec(faults) if faults else None
    with start_v4_node(TESTNET, genesis=genesis_of(genesis), faults=plan, block_seconds=0.1) as node:
        yield Setup(node, tmp_path, public, address, mnemonic, tmp_path / "state")


@pytest.fixture
def setup(tmp_path: Path, derived: tuple[Path, Path, str]) -> Iterator[Setup]:
    with running(tmp_path, derived) as handle:
        yield handle


def _hot_key_file(setup: Setup) -> Path:
    path = setup.dir / "hot-key.json"
    path.write_text(json.dumps({"public_key": HOT_PUB.hex(), "key_type": "secp256k1"}))
    return path


def _authorise(setup: Setup) -> dict[str, Any]:
    r = setup.through("add-trading-key", "--hot-key", _hot_key_file(setup))
    assert r.code == 0, r
    (written,) = setup.dir.glob("trading-key-*.json")
    return dict(json.loads(written.read_text()))


def _short_term_order(owner: str, height: int) -> MsgPlaceOrder:
    oid = OrderId(m.SubaccountId(owner, 0), 7, 0, 0)
    return MsgPlaceOrder(Order(oid, 1, 1_000_000, 5_000_000, good_til_block=height + 10))


def _height(setup: Setup) -> int:
    return int(setup.get("/cosmos/base/tendermint/v1beta1/blocks/latest")["block"]["header"]["height"])


# ---- the flow ------------------------------------------------------------------------------------------


def test_a_deposit_prepared_by_the_relay_is_signed_cold_and_included_once(setup: Setup, figure: Any) -> None:
    r = setup.through("deposit", "--amount", "12.5")
    assert r.code == 0, r
    assert "broadcast and included" in r.out
    sub = setup.get(f"/dydxprotocol/subaccounts/subaccount/{setup.address}/0")["subaccount"]
    assert int(sub["asset_positions"][0]["quantums"]) == SUBACCOUNT + 12_500_000
    assert setup.sequence() == 1 and setup.sends() == 1
    again = setup.broadcast("signed-deposit.json")
    assert again.code == 0, again
    assert "nothing was sent again" in again.out
    assert setup.sends() == 1
    request = json.loads((setup.dir / "req-deposit.json").read_text())
    figure(f"v4 deposit: gas limit {request['body']['tx']['gas_limit']}, 1 send, a replay sent nothing")


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("withdraw", ("--amount", "3")),
        ("transfer", ("--amount", "2", "--to-subaccount", "1")),
        ("send", ("--amount", "1", "--to", "dydx1r236tts72m4hrcwm7q2zlnwlt2z3xgdc9z7s9x")),
    ],
)
def test_every_funds_kind_the_relay_prepares_is_accepted_by_sign_v4(
    setup: Setup, kind: str, args: tuple[str, ...]
) -> None:
    prepared = setup.prepare(kind, "req.json", *args)
    assert prepared.code == 0, prepared
    signed = setup.sign("req.json", "signed.json")
    if kind == "send":  # another account: the cold review refuses it unless named, as it should
        assert_clean_failure(signed, "--allow-recipient")
        return
    assert signed.code == 0, signed
    r = setup.broadcast("signed.json")
    assert r.code == 0, r


def test_add_trading_key_reads_the_id_back_and_the_hot_key_trades_but_cannot_withdraw(setup: Setup) -> None:
    config = _authorise(setup)
    listed = setup.get(f"/dydxprotocol/accountplus/authenticators/{setup.address}")["account_authenticators"]
    assert [int(x["id"]) for x in listed] == [config["authenticator_id"]]
    assert config["owner_address"] == setup.address and config["chain_id"] == TESTNET.chain_id
    assert config["hot_public_key"] == HOT_PUB.hex() and config["safe_for_a_hot_key"] is True
    assert config["owner_account_number"] == ACCOUNT_NUMBER
    ident, height = config["authenticator_id"], _height(setup)
    order = _short_term_order(setup.address, height)
    placed = broadcast(setup.node, build((order,), key=HOT_KEY, sequence=0, selected=(ident,), fee=(), gas=0))
    assert placed["code"] == 0, placed["raw_log"]
    cancel = MsgCancelOrder(order.order_id, good_til_block=height + 5)
    cancelled = broadcast(
        setup.node, build((cancel,), key=HOT_KEY, sequence=0, selected=(ident,), fee=(), gas=0)
    )
    assert cancelled["code"] == 0, cancelled["raw_log"]
    withdrawal = m.MsgWithdrawFromSubaccount(m.SubaccountId(setup.address, 0), setup.address, 0, 1_000_000)
    refused = broadcast(
        setup.node, build((withdrawal,), key=HOT_KEY, sequence=setup.sequence(), selected=(ident,))
    )
    assert refused["code"] == 4 and "authentication failed" in refused["raw_log"]
    removed = setup.through("remove-trading-key", "--id", str(ident))
    assert removed.code == 0, removed
    assert (
        setup.get(f"/dydxprotocol/accountplus/authenticators/{setup.address}")["account_authenticators"] == []
    )


def test_a_hot_key_stateful_order_between_prepare_and_broadcast_makes_broadcast_ask_for_a_new_signature(
    setup: Setup,
) -> None:
    ident = _authorise(setup)["authenticator_id"]
    assert setup.prepare("withdraw", "req.json", "--amount", "1").code == 0
    assert setup.sign("req.json", "signed.json").code == 0
    sends = setup.sends()
    oid = OrderId(m.SubaccountId(setup.address, 0), 9, ORDER_FLAGS_LONG_TERM, 0)
    stateful = MsgPlaceOrder(Order(oid, 1, 1_000_000, 5_000_000, good_til_block_time=2_000_000_000))
    landed = broadcast(
        setup.node,
        build(
            (stateful,), key=HOT_KEY, sequence=setup.sequence(), selected=(ident,), fee=(Coin(USDC, 5000),)
        ),
    )
    assert landed["code"] == 0, landed["raw_log"]
    r = setup.broadcast("signed.json")
    assert_clean_failure(r, "sequence is now", "sign it again", "nothing was sent")
    assert setup.sends() == sends + 1  # the hot key's order only


def test_a_short_term_order_between_prepare_and_broadcast_does_not_disturb_the_cold_transaction(
    setup: Setup,
) -> None:
    ident = _authorise(setup)["authenticator_id"]
    assert setup.prepare("withdraw", "req.json", "--amount", "1").code == 0
    assert setup.sign("req.json", "signed.json").code == 0
    order = _short_term_order(setup.address, _height(setup))
    placed = broadcast(setup.node, build((order,), key=HOT_KEY, sequence=0, selected=(ident,), fee=(), gas=0))
    assert placed["code"] == 0, placed["raw_log"]
    r = setup.broadcast("signed.json")
    assert r.code == 0, r


# ---- bad input: one line, nothing broadcast ------------------------------------------------------------


def test_a_signed_transaction_for_a_request_this_relay_did_not_prepare_is_refused(setup: Setup) -> None:
    assert setup.prepare("deposit", "req.json", "--amount", "1").code == 0
    assert setup.sign("req.json", "signed.json").code == 0
    r = run_tool("dydx-relay", "v4", "broadcast", "signed.json", "--node", setup.node.url, "--state",
                 setup.dir / "other-state", cwd=setup.dir)  # fmt: skip
    assert_clean_failure(r, "did not prepare", "nothing was sent")
    assert setup.sends() == 0


def test_an_expired_timeout_height_is_refused_before_sending(setup: Setup) -> None:
    assert setup.prepare("deposit", "req.json", "--amount", "1", "--expires-in", "60s").code == 0
    assert setup.sign("req.json", "signed.json").code == 0
    assert httpx.post(setup.node.url + "/local/blocks", json={"count": 61}).status_code == 200
    r = setup.broadcast("signed.json")
    assert_clean_failure(r, "timeout height", "was not sent")
    assert setup.sends() == 0


def test_a_plain_http_remote_node_and_an_unfunded_account_are_refused_without_writing(setup: Setup) -> None:
    r = setup.relay("prepare", "deposit", "--node", "http://rest.example.com", "--public-key", setup.public,
                    "--out", "req.json", "--amount", "1")  # fmt: skip
    assert_clean_failure(r, "refusing plain HTTP")
    assert not (setup.dir / "req.json").exists()
    r = setup.prepare("withdraw", "req.json", "--amount", "1000")
    assert_clean_failure(r, "less than", "nothing was prepared")
    assert not (setup.dir / "req.json").exists()
    r = setup.prepare("add-trading-key", "req.json", "--hot-key", "02" + "ab" * 31)
    assert_clean_failure(r, "--hot-key")
    r = setup.prepare("remove-trading-key", "req.json", "--id", "77")
    assert_clean_failure(r, "no authenticator 77")


# ---- evidence ------------------------------------------------------------------------------------------


def test_v4_broadcasts_get_relay_receipts_and_the_bundle_verifies(setup: Setup) -> None:
    _authorise(setup)
    assert setup.through("deposit", "--amount", "1").code == 0
    key = run_tool("dydx-relay", "init-evidence-key", "--state", setup.state, "--json")
    assert key.code == 0, key
    relay_key = json.loads(key.out)["public_key"]
    keys = setup.public.parent
    bundle = setup.dir / "bundle"
    built = run_tool(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", setup.mnemonic, "--network", "11155111",
        "--evidence-log", setup.dir / "log.jsonl", "--from", setup.dir, "--from", keys, "--out", bundle,
    )  # fmt: skip
    assert built.code == 0, built
    added = run_tool("dydx-relay", "evidence", "add-receipts", bundle, "--state", setup.state, "--json")
    assert added.code == 0, added
    assert json.loads(added.out)["transactions"] == 2
    receipts = json.loads((bundle / "relay" / "receipts.json").read_text())["transactions"]
    assert {r["state"] for r in receipts} == {"included"}
    assert all(any(e["event"] == "included" for e in r["events"]) for r in receipts)
    address = decode_payload(setup.public.read_bytes()).address
    assert address is not None
    verified = run_tool(
        "dydx-audit", "verify", bundle, "--relay-key", relay_key, "--address", address, "--json"
    )
    assert verified.code == 0, verified
    report = json.loads(verified.out)
    assert report["ok"] is True
    (line,) = [c for c in report["checks"] if c["name"] == "relay-receipts"]
    assert line["verdict"] == "PASS" and "2 transaction(s)" in line["detail"]
    # Receipts altered after the relay signed them (one broadcast claimed for another hash) fail verify.
    tampered = setup.dir / "tampered"
    shutil.copytree(bundle, tampered)
    path = tampered / "relay" / "receipts.json"
    path.write_text(path.read_text().replace(receipts[0]["tx_hash"], receipts[1]["tx_hash"], 1))
    assert (
        run_tool("dydx-audit", "verify", tampered, "--relay-key", relay_key, "--address", address).code != 0
    )


# ---- faults and lying nodes ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["at=1:drop_after_commit", "at=1:duplicate", "at=1:503"])
def test_a_broadcast_whose_answer_is_lost_reaches_the_node_once_and_is_journaled(
    tmp_path: Path, derived: tuple[Path, Path, str], spec: str, figure: Any
) -> None:
    with running(tmp_path, derived, spec) as setup:
        r = setup.through("deposit", "--amount", "1")
        assert r.code == 0, r
        counters = setup.node.chain.counters
        assert (counters.broadcasts, counters.duplicates) == (1, 0)
        assert setup.broadcast("signed-deposit.json").code == 0
        assert setup.node.chain.counters.broadcasts == 1
    db = sqlite3.connect(setup.state / "v4-journal.sqlite3")
    events = [json.loads(d) for (e, d) in db.execute("SELECT event, detail FROM events") if e == "included"]
    db.close()
    steps = events[0]["steps"]
    figure(f"v4 broadcast CLI [{spec}]: steps {[s['action'] + ':' + s['outcome'] for s in steps]}, 1 CheckTx")


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"block": {"header": {"chain_id": "dydx-testnet-4", "height": 12')

    def log_message(self, *args: Any) -> None:
        return None


def test_a_node_answering_malformed_json_is_one_line_and_no_request(
    tmp_path: Path, derived: tuple[Path, Path, str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _, public, _ = derived
        url = f"http://127.0.0.1:{server.server_address[1]}"
        r = run_tool("dydx-relay", "v4", "prepare", "deposit", "--node", url, "--public-key", public,
                     "--amount", "1", "--out", tmp_path / "req.json", "--state", tmp_path / "state")  # fmt: skip
        assert_clean_failure(r, "latest block")
        assert not (tmp_path / "req.json").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_prepare_and_broadcast_speak_json_for_scripts(setup: Setup) -> None:
    prepared = setup.prepare("deposit", "req.json", "--amount", "2", "--json")
    assert prepared.code == 0, prepared
    facts = json.loads(prepared.out)
    assert (facts["kind"], facts["address"], facts["sequence"]) == ("deposit", setup.address, 0)
    assert facts["timeout_height"] - facts["latest_height"] == 3600
    assert setup.sign("req.json", "signed.json").code == 0
    sent = setup.broadcast("signed.json", "--json")
    assert sent.code == 0, sent
    result = json.loads(sent.out)
    assert (
        result["sent_by_this_run"] is True
        and result["sends"] == 1
        and result["height"] > facts["latest_height"]
    )
