"""`dydx-relay prepare` / `dydx-relay broadcast` against the real local chain and the real local API.

Everything runs on 127.0.0.1: the local dYdX API (chain id 31337, following the chain's events) and the
py-evm chain whose StarkPerpetual stand-in accepts the API operator's registration signatures. Users are
onboarded through the relay's own submit flow, which stores their default API credentials.

The cold side is played by eth-account here (test scaffolding): it signs exactly the fields of the decoded
tx-request, or deliberately other fields to show the relay refuses them. Effects are read back from the
chain with calldata built by eth_abi, and the number of eth_sendRawTransaction calls the node received is
counted at the node, so "nothing was sent" is observed rather than taken from the relay's own report.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import eth_abi
import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.onchain.broadcast import BroadcastOptions, broadcast_signed
from dydx_airgap.online.onchain.revert import decode_revert_data
from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError, parse_rpc_url
from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
from dydx_airgap.online.rehearsal.v3_api import LocalApiHandle, start_local_api
from dydx_airgap.online.relay.submit import RelayOptions, submit_payload
from dydx_airgap.shared.errors import PolicyError, RemoteError, VerificationError
from dydx_airgap.shared.stark.constants import EC_ORDER
from dydx_airgap.shared.stark.keys import private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from tests.conftest import Result, assert_clean_failure, origin_signer_for, run_tool

CHAIN_ID = 31337
AMOUNT_TEXT = "1250.50"
AMOUNT_UNITS = 1_250_500_000  # 1250.50 USDC with 6 decimals


# ---- the local world -----------------------------------------------------------------------------------


@dataclass
class World:
    api: LocalApiHandle
    chain: LocalChain
    root: Path
    sends: list[str] = field(default_factory=list)  # hashes of every raw transaction the node was sent

    @property
    def perpetual(self) -> str:
        return self.chain.deployment.stark_perpetual.address

    @property
    def usdc(self) -> str:
        return self.chain.deployment.usdc.address


def _count_sends(chain: LocalChain, sends: list[str]) -> None:
    # Test instrumentation at the node: the dispatcher is the local chain's JSON-RPC method table.
    methods = chain._server._server.dispatcher.methods
    original = methods["eth_sendRawTransaction"]

    def counting(params: list[Any]) -> Any:
        sends.append("0x" + keccak(bytes.fromhex(str(params[0])[2:])).hex())
        return original(params)

    methods["eth_sendRawTransaction"] = counting


def _start_world(root: Path, *, automine: bool = True) -> World:
    deployment = root / "deployment.json"
    api = start_local_api(chain_id=CHAIN_ID, deployment=deployment)
    chain = start_local_chain(
        operator=api.operator_address, chain_id=CHAIN_ID, deployment_out=deployment, automine=automine
    )
    world = World(api=api, chain=chain, root=root)
    _count_sends(chain, world.sends)
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = _start_world(tmp_path_factory.mktemp("onchain"))
    yield w
    w.api.stop()  # the API's chain follower first, so it does not poll a stopped node
    w.chain.stop()


def rpc(url: str, method: str, *params: Any) -> Any:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
    if "error" in body:
        raise AssertionError(body["error"])
    return body["result"]


def view(url: str, to: str, signature: str, types: list[str], args: list[Any], out: list[str]) -> Any:
    data = keccak(text=signature)[:4] + eth_abi.encode(types, args)
    result = rpc(url, "eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
    decoded = eth_abi.decode(out, bytes.fromhex(result[2:]))
    return decoded[0] if len(decoded) == 1 else decoded


def usdc_of(world: World, owner: str) -> int:
    return view(world.chain.url, world.usdc, "balanceOf(address)", ["address"], [owner], ["uint256"])


def nonce_of(world: World, address: str) -> int:
    return int(rpc(world.chain.url, "eth_getTransactionCount", address, "latest"), 16)


# ---- users: funded, onboarded through the relay ------------------------------------------------------


@dataclass
class User:
    label: str
    key: str
    address: str
    stark_key: int
    position_id: int
    state: Path
    dir: Path


def _onboarding_signature(key: str) -> str:
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "dYdX": [{"name": "action", "type": "string"}],
        },
        "domain": {"name": "dYdX", "version": "1.0", "chainId": CHAIN_ID},
        "primaryType": "dYdX",
        "message": {"action": "dYdX Onboarding"},
    }
    signed = Account.sign_message(encode_typed_data(full_message=typed), key)
    return "0x" + bytes(signed.signature).hex() + "00"


def onboard(api_url: str, label: str, root: Path, key: str | None = None) -> tuple[str, str, int, int, Path]:
    """Onboard a user on ``api_url`` through the relay; returns key, address, STARK key, position id, state."""
    key = key or "0x" + hashlib.sha256(b"onchain test user " + label.encode()).hexdigest()
    address = Account.from_key(key).address
    stark_private = (
        int.from_bytes(hashlib.sha256(b"stark " + label.encode()).digest(), "big") % (EC_ORDER - 1) + 1
    )
    x, y = private_key_to_ec_point_on_stark_curve(stark_private)[:2]
    body = {
        "account": 0,
        "method": "POST",
        "request_path": "/v3/onboarding",
        "body": json.dumps({"starkKey": hex(x), "starkKeyYCoordinate": hex(y)}, separators=(",", ":")),
        "signature": _onboarding_signature(key),
        "stark_public_key": f"0x{x:064x}",
        "stark_public_key_y": f"0x{y:064x}",
    }
    payload = new_payload("onboarding-request", CHAIN_ID, address, body, signer=origin_signer_for(key))
    state = root / label / "state"
    state.parent.mkdir(parents=True, exist_ok=True)
    result = submit_payload(payload.to_bytes(), api_url, CHAIN_ID, RelayOptions(state_dir=state))
    assert result.outcome == "accepted"
    return key, address, x, int(result.details["position_id"]), state


def new_user(world: World, label: str, eth: int = 10**19, usdc: int = 5_000 * 10**6) -> User:
    key, address, stark, position, state = onboard(world.api.url, label, world.root)
    world.chain.fund(address, eth_wei=eth, usdc_units=usdc)
    return User(label, key, address, stark, position, state, state.parent)


# ---- the relay's command line, and the cold side played by eth-account --------------------------------


def relay(*args: str | Path) -> Result:
    return run_tool("dydx-relay", *args)


def prepare(world: World, user: User, action: str, name: str, *extra: str, api: str | None = None) -> Result:
    return relay(
        "prepare",
        action,
        "--rpc",
        world.chain.url,
        "--api",
        api or world.api.url,
        "--network",
        "local",
        "--address",
        user.address,
        "--state",
        user.state,
        "--out",
        user.dir / name,
        *extra,
    )


def prepared(world: World, user: User, action: str, name: str, *extra: str) -> Path:
    result = prepare(world, user, action, name, *extra)
    assert result.code == 0, result
    return user.dir / name


def broadcast(world: World, user: User, signed: Path, *extra: str) -> Result:
    return relay("broadcast", signed, "--rpc", world.chain.url, "--state", user.state, *extra)


def sign(
    request_file: Path,
    key: str,
    out: Path,
    *,
    changes: dict[str, Any] | None = None,
    request_sha256: str | None = None,
    origin_key: str | None = None,
) -> dict[str, Any]:
    """Sign the tx-request's fields (with ``changes`` applied) and write the signed-tx payload to ``out``."""
    data = request_file.read_bytes()
    request = decode_payload(data)
    t = request.body["transaction"]
    fields = {
        "type": 2,
        "chainId": t["chain_id"],
        "nonce": t["nonce"],
        "maxPriorityFeePerGas": t["max_priority_fee_per_gas"],
        "maxFeePerGas": t["max_fee_per_gas"],
        "gas": t["gas_limit"],
        "to": t["to"],
        "value": t["value"],
        "data": t["data"],
        "accessList": [],
    }
    fields.update(changes or {})
    signed = Account.sign_transaction(fields, key)
    body = {
        "action": request.body["action"],
        "raw": "0x" + bytes(signed.raw_transaction).hex(),
        "tx_hash": "0x" + bytes(signed.hash).hex(),
        "request_sha256": request_sha256 or hashlib.sha256(data).hexdigest(),
    }
    payload = new_payload(
        "signed-tx",
        request.network_id,
        request.address,
        body,
        answers=request.id,
        signer=origin_signer_for(origin_key or key),
    )
    out.write_bytes(payload.to_bytes())
    return body


def request_fields(path: Path) -> dict[str, Any]:
    return dict(decode_payload(path.read_bytes()).body)


def calldata_args(request: dict[str, Any], types: list[str]) -> tuple[Any, ...]:
    data = bytes.fromhex(request["transaction"]["data"][2:])
    return eth_abi.decode(types, data[4:])


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# ---- the whole flow --------------------------------------------------------------------------------------


def test_register_approve_deposit_prepared_together_then_broadcast(world: World) -> None:
    user = new_user(world, "flow")
    perpetual_usdc_before = usdc_of(world, world.perpetual)
    user_usdc_before = usdc_of(world, user.address)
    start_nonce = nonce_of(world, user.address)

    # One trip to the cold machine: all three requests prepared before any is broadcast.
    register = prepare(world, user, "register", "register.json")
    assert register.code == 0, register
    assert "registerUser(address,uint256,bytes)" in register.out
    assert "a user admin of the contract" in register.out
    approve = prepare(world, user, "approve", "approve.json", "--amount", AMOUNT_TEXT, "--json")
    assert approve.code == 0, approve
    approve_info = json.loads(approve.out)
    deposit = prepare(world, user, "deposit", "deposit.json", "--amount", AMOUNT_TEXT, "--json")
    assert deposit.code == 0, deposit
    deposit_info = json.loads(deposit.out)

    # What was asked of the cold side, decoded independently (eth_abi) from the request files.
    reg = request_fields(user.dir / "register.json")
    eth_key, stark_key, registration = calldata_args(reg, ["address", "uint256", "bytes"])
    assert reg["action"] == "register" and reg["transaction"]["to"] == world.perpetual
    assert eth_key == user.address.lower() and stark_key == user.stark_key and len(registration) == 65
    assert reg["transaction"]["nonce"] == start_nonce and reg["transaction"]["value"] == 0
    assert reg["context"]["rpc"] == world.chain.url  # an origin: loopback URLs carry no path

    app = request_fields(user.dir / "approve.json")
    assert app["transaction"]["to"] == world.usdc
    assert calldata_args(app, ["address", "uint256"]) == (world.perpetual.lower(), AMOUNT_UNITS)
    assert app["transaction"]["nonce"] == start_nonce + 1
    assert (
        approve_info["nonce"] == start_nonce + 1
        and approve_info["request_id"] == decode_payload((user.dir / "approve.json").read_bytes()).id
    )

    dep = request_fields(user.dir / "deposit.json")
    asset = view(world.chain.url, world.perpetual, "systemAssetType()", [], [], ["uint256"])
    assert calldata_args(dep, ["uint256", "uint256", "uint256", "uint256"]) == (
        user.stark_key,
        asset,
        user.position_id,
        AMOUNT_UNITS,
    )
    assert dep["transaction"]["nonce"] == start_nonce + 2
    assert dep["context"]["amount"] == "1250.5" and dep["context"]["position_id"] == str(user.position_id)
    # Before register and approve are mined the deposit cannot be estimated: the documented fallback.
    assert dep["transaction"]["gas_limit"] == 250_000 and deposit_info["gas_estimate"] is None
    assert any("fixed gas limit 250000" in note for note in deposit_info["notes"])

    signed = {name: user.dir / f"signed-{name}.json" for name in ("register", "approve", "deposit")}
    hashes = {
        name: sign(user.dir / f"{name}.json", user.key, path)["tx_hash"] for name, path in signed.items()
    }

    # The deposit first: its nonce is two ahead of the account's, so it is refused before sending.
    sends_before = len(world.sends)
    early = broadcast(world, user, signed["deposit"])
    assert_clean_failure(early, "ahead of", f"nonce {start_nonce}", "register", "nothing was sent")
    assert len(world.sends) == sends_before

    result = broadcast(world, user, signed["register"], "--json")
    assert result.code == 0, result
    answer = json.loads(result.out)
    assert answer["sent"] is True and answer["tx_hash"] == hashes["register"]
    owner = view(
        world.chain.url, world.perpetual, "getEthKey(uint256)", ["uint256"], [user.stark_key], ["address"]
    )
    assert owner == user.address.lower()
    assert wait_for(lambda: world.api.store.get_user(user.address).registered_at is not None)

    result = broadcast(world, user, signed["approve"])
    assert result.code == 0, result
    allowance = view(
        world.chain.url, world.usdc, "allowance(address,address)", ["address", "address"],
        [user.address, world.perpetual], ["uint256"],
    )  # fmt: skip
    assert allowance == AMOUNT_UNITS

    result = broadcast(world, user, signed["deposit"])
    assert result.code == 0, result
    assert "broadcast and mined" in result.out and "1250.5 USDC to position" in result.out
    assert usdc_of(world, user.address) == user_usdc_before - AMOUNT_UNITS
    assert usdc_of(world, world.perpetual) == perpetual_usdc_before + AMOUNT_UNITS
    pending_deposit = view(
        world.chain.url, world.perpetual, "getQuantizedDepositBalance(uint256,uint256,uint256)",
        ["uint256", "uint256", "uint256"], [user.stark_key, asset, user.position_id], ["uint256"],
    )  # fmt: skip
    assert pending_deposit == AMOUNT_UNITS
    assert nonce_of(world, user.address) == start_nonce + 3
    # The local API's chain follower credits the deposit to the account.
    assert wait_for(lambda: world.api.store.get_account(user.address, 0).quote_balance == AMOUNT_UNITS)
    assert [h for h in world.sends[sends_before:]] == [
        hashes["register"],
        hashes["approve"],
        hashes["deposit"],
    ]

    # A replay of the same signed file is answered from the journal and the node's receipt: no resend.
    sends_before = len(world.sends)
    replay = broadcast(world, user, signed["deposit"], "--json")
    assert replay.code == 0, replay
    again = json.loads(replay.out)
    assert again["sent"] is False and again["tx_hash"] == hashes["deposit"]
    assert any("nothing was sent again" in note for note in again["notes"])
    assert len(world.sends) == sends_before
    assert usdc_of(world, user.address) == user_usdc_before - AMOUNT_UNITS

    # Register is done now: preparing it again is refused.
    assert_clean_failure(prepare(world, user, "register", "again.json"), "already registered")
    assert not (user.dir / "again.json").exists()


def test_unlimited_approve_is_the_default_and_said_so(world: World) -> None:
    user = new_user(world, "unlimited")
    result = prepare(world, user, "approve", "approve.json")
    assert result.code == 0, result
    assert "UNLIMITED" in result.out
    request = request_fields(user.dir / "approve.json")
    assert calldata_args(request, ["address", "uint256"]) == (world.perpetual.lower(), 2**256 - 1)
    assert request["context"]["amount"] is None


# ---- prepare refuses what cannot work -------------------------------------------------------------------


def test_prepare_refusals(world: World) -> None:
    user = new_user(world, "refusals")
    assert_clean_failure(
        prepare(world, user, "deposit", "d.json", "--amount", "10"), "not registered on chain", "register"
    )
    assert_clean_failure(prepare(world, user, "deposit", "d.json"), "deposit needs --amount")
    assert_clean_failure(
        prepare(world, user, "deposit", "d.json", "--amount", "1.0000001"), "more than 6 decimals"
    )
    assert_clean_failure(
        prepare(world, user, "register", "r.json", "--amount", "5"), "register takes no --amount"
    )
    wrong_network = relay(
        "prepare", "approve", "--rpc", world.chain.url, "--api", world.api.url, "--network", "sepolia",
        "--address", user.address, "--state", user.state, "--out", user.dir / "a.json",
    )  # fmt: skip
    assert_clean_failure(wrong_network, "serves chain id 31337", "Sepolia")
    no_credentials = relay(
        "prepare", "register", "--rpc", world.chain.url, "--api", world.api.url, "--network", "local",
        "--address", user.address, "--state", user.dir / "empty-state", "--out", user.dir / "r.json",
    )  # fmt: skip
    assert_clean_failure(no_credentials, "no API credentials")
    remote_http = relay(
        "prepare", "approve", "--rpc", "http://192.0.2.1:8545/secret-key", "--api", world.api.url,
        "--network", "local", "--address", user.address, "--state", user.state, "--out", user.dir / "a.json",
    )  # fmt: skip
    assert_clean_failure(remote_http, "plain HTTP")
    assert "secret-key" not in remote_http.err
    for name in ("d.json", "r.json", "a.json"):
        assert not (user.dir / name).exists()


def test_prepare_refuses_an_address_without_gas_money(world: World) -> None:
    user = new_user(world, "broke", eth=0)
    result = prepare(world, user, "approve", "a.json", "--amount", "5")
    assert_clean_failure(result, "holds 0 ETH", "may cost up to", "--allow-insufficient-funds")
    assert not (user.dir / "a.json").exists()
    anyway = prepare(world, user, "approve", "a.json", "--amount", "5", "--allow-insufficient-funds")
    assert anyway.code == 0, anyway
    assert "WARNING" in anyway.out and (user.dir / "a.json").exists()

    # Broadcast anyway: the node refuses for lack of funds; once funded, the same file goes through.
    sign(user.dir / "a.json", user.key, user.dir / "signed.json")
    refused = broadcast(world, user, user.dir / "signed.json")
    assert_clean_failure(refused, "insufficient funds", "holds 0 ETH", "add ETH")
    world.chain.fund(user.address, eth_wei=10**17)
    assert broadcast(world, user, user.dir / "signed.json").code == 0
    allowance = view(
        world.chain.url, world.usdc, "allowance(address,address)", ["address", "address"],
        [user.address, world.perpetual], ["uint256"],
    )  # fmt: skip
    assert allowance == 5_000_000


def test_registration_signature_from_a_foreign_api_is_caught_before_signing(world: World) -> None:
    """A second API, whose operator is not the contract's user admin, hands out its own signature."""
    with start_local_api(chain_id=CHAIN_ID) as other_api:
        key, address, _stark, _position, state = onboard(other_api.url, "foreign", world.root)
        world.chain.fund(address, eth_wei=10**18)
        user = User("foreign", key, address, 0, 0, state, state.parent)
        result = prepare(world, user, "register", "r.json", api=other_api.url)
    assert_clean_failure(result, other_api.operator_address, "user admin", "INVALID_SIGNATURE")
    assert not (user.dir / "r.json").exists()


# ---- broadcast refuses a transaction that is not the one requested ---------------------------------------


def test_broadcast_refuses_transactions_that_differ_from_their_request(world: World) -> None:
    user = new_user(world, "mismatch")
    request_file = prepared(world, user, "approve", "approve.json", "--amount", "10")
    fields = request_fields(request_file)["transaction"]
    state_options = BroadcastOptions(rpc_url=world.chain.url, state_dir=user.state, timeout=10)
    stranger = "0x" + hashlib.sha256(b"stranger").hexdigest()
    other_amount = keccak(text="approve(address,uint256)")[:4] + eth_abi.encode(
        ["address", "uint256"], [world.perpetual, 10**12]
    )
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"nonce": fields["nonce"] + 1}, "nonce is", "request asked"),
        ({"to": world.perpetual}, "to is", world.usdc),
        ({"data": "0x" + other_amount.hex()}, "data is", "request asked"),
        ({"maxFeePerGas": fields["max_fee_per_gas"] + 1}, "max_fee_per_gas is", "request asked"),
        (
            {"maxPriorityFeePerGas": fields["max_priority_fee_per_gas"] - 1},
            "max_priority_fee_per_gas",
            "asked",
        ),
        ({"gas": fields["gas_limit"] + 1000}, "gas_limit is", "request asked"),
        ({"chainId": 1}, "chain_id is 1", "31337"),
        ({"value": 1}, "value is 1", "request asked"),
    ]
    sends_before = len(world.sends)
    for number, (changes, *fragments) in enumerate(cases):
        out = user.dir / f"bad-{number}.json"
        body = sign(request_file, user.key, out, changes=changes)
        with pytest.raises(VerificationError) as refused:
            broadcast_signed(out.read_bytes(), state_options)
        for fragment in (*fragments, "nothing was sent"):
            assert fragment in refused.value.message, (changes, refused.value.message)
        assert rpc(world.chain.url, "eth_getTransactionByHash", body["tx_hash"]) is None

    # The right fields, signed by another key.
    out = user.dir / "bad-sender.json"
    # (The payload's origin signature is the user's, so only the relay's own sender check can catch it.)
    sign(request_file, stranger, out, origin_key=user.key)
    with pytest.raises(VerificationError, match=f"not by {user.address}"):
        broadcast_signed(out.read_bytes(), state_options)

    # Signed from an altered copy of the request (its SHA-256 is not the journaled one).
    out = user.dir / "bad-sha.json"
    sign(request_file, user.key, out, request_sha256=hashlib.sha256(b"another request").hexdigest())
    with pytest.raises(VerificationError, match="request was altered"):
        broadcast_signed(out.read_bytes(), state_options)

    # Through the command line: the same refusal, one line, no traceback.
    assert_clean_failure(broadcast(world, user, user.dir / "bad-0.json"), "nonce is", "nothing was sent")
    # A request is not a signed transaction, and a signed-tx this relay never prepared is unknown.
    assert_clean_failure(broadcast(world, user, request_file), "not a signed transaction")
    foreign_state = world.root / "mismatch" / "other-state"
    assert_clean_failure(
        relay("broadcast", user.dir / "bad-0.json", "--rpc", world.chain.url, "--state", foreign_state),
        "not in",
        "nothing was sent",
    )
    assert len(world.sends) == sends_before
    assert nonce_of(world, user.address) == fields["nonce"]

    # The request itself was never the problem: its faithful signature goes through.
    good = user.dir / "good.json"
    sign(request_file, user.key, good)
    assert broadcast(world, user, good).code == 0
    assert len(world.sends) == sends_before + 1


# ---- the node's refusals, and this very transaction mined elsewhere --------------------------------------


def test_nonce_too_low_for_a_replaced_transaction_and_for_one_mined_elsewhere(world: World) -> None:
    user = new_user(world, "nonces")
    first = prepared(world, user, "approve", "first.json", "--amount", "1")
    nonce = request_fields(first)["transaction"]["nonce"]
    # A second request for the same nonce (a replacement), broadcast before the first one.
    second = prepared(world, user, "approve", "second.json", "--amount", "2", "--nonce", str(nonce))
    sign(first, user.key, user.dir / "signed-first.json")
    sign(second, user.key, user.dir / "signed-second.json")
    assert broadcast(world, user, user.dir / "signed-second.json").code == 0

    late = broadcast(world, user, user.dir / "signed-first.json")
    assert_clean_failure(late, "nonce too low", f"nonce {nonce}", "already used by another transaction")
    allowance = view(
        world.chain.url, world.usdc, "allowance(address,address)", ["address", "address"],
        [user.address, world.perpetual], ["uint256"],
    )  # fmt: skip
    assert allowance == 2_000_000  # the second approve's amount, not the first's

    # This very transaction broadcast by someone else first: the node says "nonce too low", the relay
    # finds its receipt and reports it mined instead of failing.
    third = prepared(world, user, "approve", "third.json", "--amount", "3")
    body = sign(third, user.key, user.dir / "signed-third.json")
    rpc(world.chain.url, "eth_sendRawTransaction", body["raw"])
    result = broadcast(world, user, user.dir / "signed-third.json", "--json")
    assert result.code == 0, result
    answer = json.loads(result.out)
    assert answer["sent"] is False and answer["tx_hash"] == body["tx_hash"]
    assert any("already mined" in note for note in answer["notes"])


def test_a_reverted_transaction_is_reported_with_its_reason_and_not_resent(world: World) -> None:
    user = new_user(world, "revert")
    assert broadcast(world, user, _signed(world, user, "register")).code == 0
    assert broadcast(world, user, _signed(world, user, "approve", "--amount", "100")).code == 0
    # Two deposits against one allowance of 100 USDC: both estimate fine now, only one can succeed.
    one = _signed(world, user, "deposit", "--amount", "100", name="deposit-1")
    two = _signed(world, user, "deposit", "--amount", "100", name="deposit-2")
    assert broadcast(world, user, one).code == 0
    failed = broadcast(world, user, two)
    assert failed.code == 4, failed
    assert_clean_failure(failed, "reverted", "TRANSFER_AMOUNT_EXCEEDS_ALLOWANCE", "approve")
    receipt = rpc(
        world.chain.url,
        "eth_getTransactionReceipt",
        json.loads((user.dir / "deposit-2-signed.json").read_text())["body"]["tx_hash"],
    )
    assert receipt["status"] == "0x0"
    sends_before = len(world.sends)
    again = broadcast(world, user, two)
    assert again.code == 4 and "TRANSFER_AMOUNT_EXCEEDS_ALLOWANCE" in again.err
    assert len(world.sends) == sends_before


def _signed(world: World, user: User, action: str, *extra: str, name: str | None = None) -> Path:
    name = name or action
    request = prepared(world, user, action, f"{name}.json", *extra)
    out = user.dir / f"{name}-signed.json"
    sign(request, user.key, out)
    return out


class _AnswersLost(httpx.BaseTransport):
    """Forwards every request to the real node, but loses the answer to eth_sendRawTransaction."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if b"eth_sendRawTransaction" in request.content:
            response.read()
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_lost_answer_is_settled_by_looking_up_the_hash(world: World) -> None:
    """security.md check 10: a send whose answer is lost is followed by a lookup, not by a blind resend."""
    user = new_user(world, "lost")
    signed = _signed(world, user, "approve", "--amount", "9")
    tx_hash = json.loads(signed.read_text())["body"]["tx_hash"]
    nonce = nonce_of(world, user.address)
    lossy = BroadcastOptions(
        rpc_url=world.chain.url, state_dir=user.state, transport=_AnswersLost(), sleep=lambda s: None
    )
    with pytest.raises(RemoteError, match="may have reached the node: run the same command again"):
        broadcast_signed(signed.read_bytes(), lossy)
    # The node did get it (five identical copies; one can be mined), the relay does not know yet.
    assert set(world.sends[-5:]) == {tx_hash}
    sends_before = len(world.sends)
    result = broadcast(world, user, signed, "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["tx_hash"] == tx_hash
    assert len(world.sends) == sends_before  # settled by the receipt, nothing sent again
    assert nonce_of(world, user.address) == nonce + 1


# ---- a transaction that waits: timeout, no resend, "already known" ----------------------------------------


def test_pending_transaction_is_followed_not_resent(tmp_path: Path) -> None:
    w = _start_world(tmp_path, automine=False)
    try:
        user = new_user(w, "pending")
        w.chain.mine()  # the funding transactions
        signed = _signed(w, user, "approve", "--amount", "7")
        tx_hash = json.loads(signed.read_text())["body"]["tx_hash"]

        waiting = broadcast(w, user, signed, "--timeout", "0")
        assert waiting.code == 3, waiting
        assert_clean_failure(waiting, "not mined after 0 s", "waits in the node's pool", "not be sent twice")
        assert w.sends == [tx_hash]

        still = broadcast(w, user, signed, "--timeout", "0")
        assert still.code == 3 and w.sends == [tx_hash]  # looked up, not sent again

        # Another transaction handed to the node directly before the relay sees it: "already known".
        other = _signed(w, user, "approve", "--amount", "8", name="approve-2")
        other_body = json.loads(other.read_text())["body"]
        rpc(w.chain.url, "eth_sendRawTransaction", other_body["raw"])
        known = broadcast(w, user, other, "--timeout", "0")
        assert known.code == 3, known
        assert w.sends == [tx_hash, other_body["tx_hash"], other_body["tx_hash"]]

        w.chain.mine()
        for path, expected in ((signed, tx_hash), (other, other_body["tx_hash"])):
            done = broadcast(w, user, path, "--json")
            assert done.code == 0, done
            answer = json.loads(done.out)
            assert answer["tx_hash"] == expected and answer["sent"] is False
        assert len(w.sends) == 3
        allowance = view(
            w.chain.url, w.usdc, "allowance(address,address)", ["address", "address"],
            [user.address, w.perpetual], ["uint256"],
        )  # fmt: skip
        assert allowance == 8_000_000
    finally:
        w.api.stop()
        w.chain.stop()


# ---- the JSON-RPC client against a misbehaving node -----------------------------------------------------


def _flaky_node(script: list[Any]) -> tuple[httpx.MockTransport, list[dict[str, Any]]]:
    """A node that answers each request with the next scripted item: an int status, a JSON body or an error."""
    seen: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        seen.append(call)
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            return httpx.Response(step, text="busy")
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": call["id"], **step})

    return httpx.MockTransport(handle), seen


def _client(transport: httpx.MockTransport, pauses: list[float]) -> EthRpc:
    target = parse_rpc_url("https://node.example/v3/ACCESS-KEY-123")
    return EthRpc(target, transport=transport, sleep=pauses.append, retry=RetryPolicy(max_attempts=5))


def test_rpc_retries_transport_errors_and_5xx_only() -> None:
    pauses: list[float] = []
    transport, seen = _flaky_node([502, httpx.ConnectError("refused"), 503, {"result": "0x7a69"}])
    with _client(transport, pauses) as client:
        assert client.chain_id() == CHAIN_ID
    assert len(seen) == 4 and len(pauses) == 3

    transport, seen = _flaky_node([429])
    with _client(transport, pauses) as client, pytest.raises(RemoteError, match="HTTP 429"):
        client.chain_id()
    assert len(seen) == 1

    transport, seen = _flaky_node(
        [{"error": {"code": -32000, "message": "nonce too low: address 0xab, tx: 1"}}]
    )
    with _client(transport, pauses) as client, pytest.raises(RpcCallError) as failure:
        client.send_raw_transaction(b"\x02\xc0")
    assert failure.value.node_message.startswith("nonce too low") and len(seen) == 1

    transport, seen = _flaky_node([httpx.ReadTimeout("slow")] * 5)
    with _client(transport, pauses) as client, pytest.raises(RemoteError) as gave_up:
        client.block_number()
    assert len(seen) == 5 and "after 5 attempts" in gave_up.value.message
    # Hosted nodes put access keys in the path: only the origin is ever shown.
    assert "https://node.example" in gave_up.value.message and "ACCESS-KEY" not in gave_up.value.message

    transport, _ = _flaky_node([{"result": "not hex"}])
    with _client(transport, pauses) as client, pytest.raises(RemoteError, match="not a hex quantity"):
        client.chain_id()


def test_rpc_url_policy() -> None:
    assert parse_rpc_url("http://127.0.0.1:8545").loopback
    assert parse_rpc_url("https://eth.example:443/key/abc").origin == "https://eth.example"
    with pytest.raises(PolicyError, match="plain HTTP"):
        parse_rpc_url("http://10.0.0.5:8545")


def test_revert_reasons_are_decoded_strictly() -> None:
    error = keccak(text="Error(string)")[:4]
    panic = keccak(text="Panic(uint256)")[:4]
    assert (
        decode_revert_data(error + eth_abi.encode(["string"], ["INVALID_SIGNATURE"])) == "INVALID_SIGNATURE"
    )
    assert (
        decode_revert_data(panic + eth_abi.encode(["uint256"], [0x11])) == "panic 0x11 (arithmetic overflow)"
    )
    assert decode_revert_data(b"") is None
    truncated = error + eth_abi.encode(["string"], ["INVALID_SIGNATURE"])[:70]
    assert decode_revert_data(truncated) is None
    wrong_offset = error + (64).to_bytes(32, "big") + eth_abi.encode(["string"], ["X"])[32:]
    assert decode_revert_data(wrong_offset) is None
