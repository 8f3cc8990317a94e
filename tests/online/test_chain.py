"""The local chain end to end over real JSON-RPC on 127.0.0.1: deploy, fund, approve, register, deposit.

Transactions are built with shared/ethereum/transaction.py and shared/dydx_v3/calldata.py, signed with coincurve (the way the
cold signer will), broadcast as raw bytes and checked through balances, contract views and logs read back
over HTTP. Invalid calls are built with eth_abi so that our own encoder's refusals do not hide the
contract's checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import coincurve
import eth_abi
import httpx
import pytest
from eth_account import Account
from eth_utils import keccak as reference_keccak

from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
from dydx_airgap.shared.dydx_v3.calldata import (
    STARK_FIELD_PRIME,
    UNLIMITED_ALLOWANCE,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    collateral_asset_id,
    encode_allowance,
    encode_balance_of,
    encode_get_eth_key,
    usdc_to_base_units,
)
from dydx_airgap.shared.ethereum.abi import decode_address_result, decode_uint256_result
from dydx_airgap.shared.ethereum.address import address_from_public_key, parse_address
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction
from tests.conftest import BIN

CHAIN_ID = 11155111
# STARK public keys (x) of the spec's §10.1 reference accounts: real points on the STARK curve.
STARK_KEY = 0x39D88860B99B1809A63ADD01F7DFA59676AE006BBCDF38FF30B6A69DCF55ED3
OTHER_STARK_KEY = 0x15E2E074A7AC9E78EDB2EE9F11A0C0C0A080C79758AB81616EEA9C032C75265
THIRD_STARK_KEY = 0x35E23A936E596969A6B3131CFCCBD18B71779F28276D30E8215CD0D3E9252C2
FOURTH_STARK_KEY = 0x3EA05770B452DF14427B3F07FF600FAA132ECC3D7643275042CB4DA6AD99972
POSITION_ID = 62392
SEPOLIA_COLLATERAL_ASSET_ID = 0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25
STARK_BETA = 3141592653589793238462643383279502884197169399375105820974944592307816406665


def _key(label: str) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(hashlib.sha256(b"dydx-airgap test key " + label.encode()).digest())


def _address(key: coincurve.PrivateKey) -> str:
    return address_from_public_key(key.public_key.format(compressed=False))


OPERATOR = _key("operator")
USER = _key("user")
OTHER_USER = _key("other user")
STRANGER = _key("stranger")


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.code = error["code"]
        self.message = error["message"]
        self.data = error.get("data")


def rpc(url: str, method: str, *params: Any) -> Any:
    response = httpx.post(url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})
    assert response.status_code == 200
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 7
    if "error" in body:
        raise RpcFailure(body["error"])
    return body["result"]


def registration_signature(eth_key: str, stark_key: int, signer: coincurve.PrivateKey = OPERATOR) -> bytes:
    digest = reference_keccak(b"UserRegistration:" + parse_address(eth_key) + stark_key.to_bytes(32, "big"))
    compact = signer.sign_recoverable(digest, hasher=None)
    return compact[:64] + bytes([compact[64] + 27])


def build_tx(
    url: str,
    key: coincurve.PrivateKey,
    to: str | None,
    data: bytes = b"",
    *,
    value: int = 0,
    nonce: int | None = None,
    gas: int | None = None,
    tip: int = 10**9,
    chain_id: int = CHAIN_ID,
) -> bytes:
    """A signed raw type-2 transaction, estimated and priced from the node like the relay will."""
    sender = _address(key)
    if gas is None:
        call = {"from": sender, "value": hex(value), "input": "0x" + data.hex()}
        if to is not None:
            call["to"] = to
        gas = int(rpc(url, "eth_estimateGas", call, "latest"), 16) * 5 // 4
    if nonce is None:
        nonce = int(rpc(url, "eth_getTransactionCount", sender, "pending"), 16)
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = Eip1559Transaction(
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=2 * base_fee + tip,
        gas_limit=gas,
        to=None if to is None else parse_address(to),
        value=value,
        data=data,
    )
    return tx.with_signature(key.sign_recoverable(tx.signing_hash(), hasher=None)).raw()


def send(url: str, key: coincurve.PrivateKey, to: str | None, data: bytes = b"", **kw: Any) -> dict[str, Any]:
    raw = build_tx(url, key, to, data, **kw)
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
    receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
    assert receipt is not None and receipt["transactionHash"] == tx_hash
    return receipt


def call(url: str, to: str, data: bytes, sender: str | None = None) -> bytes:
    request = {"to": to, "input": "0x" + data.hex()}
    if sender is not None:
        request["from"] = sender
    return bytes.fromhex(rpc(url, "eth_call", request, "latest")[2:])


def usdc_balance(chain: LocalChain, owner: str) -> int:
    return decode_uint256_result(call(chain.url, chain.deployment.usdc.address, encode_balance_of(owner)))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("chain") / "deployment.json"
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=CHAIN_ID,
        fund=[f"{_address(USER)}:5:10000", f"{_address(OTHER_USER)}:1:100"],
        deployment_out=out,
    ) as running:
        yield running


def test_deployment_is_published_in_file_and_rpc(chain: LocalChain, tmp_path: Path) -> None:
    published = rpc(chain.url, "dydx_localChain")
    assert published["rpcUrl"] == chain.url
    assert published["chainId"] == CHAIN_ID
    assert published["operator"] == _address(OPERATOR)
    for address in (published["starkPerpetual"], published["usdc"]):
        assert len(rpc(chain.url, "eth_getCode", address, "latest")) > 100
    chain.write_deployment(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == published
    # The event topics the indexer filters on are the keccak of StarkEx's event signatures.
    assert (
        published["events"]["LogDeposit"]
        == "0x" + reference_keccak(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)").hex()
    )


def test_chain_id_and_contract_asset_id(chain: LocalChain) -> None:
    assert rpc(chain.url, "eth_chainId") == hex(CHAIN_ID)
    assert rpc(chain.url, "net_version") == str(CHAIN_ID)
    # The contract derives the asset id from the token address on chain; shared/ must agree.
    on_chain = decode_uint256_result(
        call(chain.url, chain.deployment.stark_perpetual.address, reference_keccak(b"systemAssetType()")[:4])
    )
    assert on_chain == collateral_asset_id(chain.deployment.usdc.address)
    assert on_chain == chain.deployment.collateral_asset_id
    assert on_chain != SEPOLIA_COLLATERAL_ASSET_ID  # a different USDC address, a different id


def test_funded_accounts_hold_eth_and_usdc(chain: LocalChain) -> None:
    assert int(rpc(chain.url, "eth_getBalance", _address(OTHER_USER), "latest"), 16) == 10**18
    assert usdc_balance(chain, _address(OTHER_USER)) == 100_000_000
    decimals = call(chain.url, chain.deployment.usdc.address, reference_keccak(b"decimals()")[:4])
    assert decode_uint256_result(decimals) == 6


def test_onboarding_approve_register_deposit(chain: LocalChain) -> None:
    url, deployment = chain.url, chain.deployment
    user = _address(USER)
    perpetual, usdc = deployment.stark_perpetual.address, deployment.usdc.address
    amount = usdc_to_base_units("1250.50")
    assert amount == 1_250_500_000
    usdc_before = usdc_balance(chain, user)

    approve = send(url, USER, usdc, ApproveCall(spender=perpetual, amount=UNLIMITED_ALLOWANCE).encode())
    assert approve["status"] == "0x1"
    allowance = call(url, usdc, encode_allowance(user, perpetual))
    assert decode_uint256_result(allowance) == UNLIMITED_ALLOWANCE

    register = RegisterUserCall(
        eth_key=user, stark_key=STARK_KEY, signature=registration_signature(user, STARK_KEY)
    )
    registered = send(url, USER, perpetual, register.encode())
    assert registered["status"] == "0x1"
    assert decode_address_result(call(url, perpetual, encode_get_eth_key(STARK_KEY))) == user
    (registered_log,) = registered["logs"]
    assert registered_log["address"] == perpetual.lower()
    assert registered_log["topics"] == [
        "0x" + reference_keccak(b"LogUserRegistered(address,uint256,address)").hex()
    ]
    assert eth_abi.decode(["address", "uint256", "address"], bytes.fromhex(registered_log["data"][2:])) == (
        user.lower(),
        STARK_KEY,
        user.lower(),
    )

    deposit = DepositCall(
        stark_key=STARK_KEY,
        asset_type=deployment.collateral_asset_id,
        vault_id=POSITION_ID,
        quantized_amount=amount,
    )
    deposited = send(url, USER, perpetual, deposit.encode())
    assert deposited["status"] == "0x1"

    assert usdc_balance(chain, user) == usdc_before - amount
    assert usdc_balance(chain, perpetual) == amount
    pending = call(
        url,
        perpetual,
        reference_keccak(b"getQuantizedDepositBalance(uint256,uint256,uint256)")[:4]
        + eth_abi.encode(["uint256"] * 3, [STARK_KEY, deployment.collateral_asset_id, POSITION_ID]),
    )
    assert decode_uint256_result(pending) == amount

    # An indexer finds the deposit with eth_getLogs, by contract and event topic.
    topic = "0x" + reference_keccak(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)").hex()
    logs = rpc(
        url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": perpetual, "topics": [topic]}
    )
    (log,) = logs
    assert log["transactionHash"] == deposited["transactionHash"]
    assert log["blockNumber"] == deposited["blockNumber"]
    fields = eth_abi.decode(["address"] + ["uint256"] * 5, bytes.fromhex(log["data"][2:]))
    assert fields == (user.lower(), STARK_KEY, POSITION_ID, deployment.collateral_asset_id, amount, amount)
    # The same log is in the receipt, next to the token's Transfer.
    assert log in deposited["logs"]
    transfer_topic = "0x" + reference_keccak(b"Transfer(address,address,uint256)").hex()
    assert any(entry["topics"][0] == transfer_topic for entry in deposited["logs"])


def test_register_with_a_non_operator_signature_reverts(chain: LocalChain) -> None:
    url, perpetual = chain.url, chain.deployment.stark_perpetual.address
    other = _address(OTHER_USER)
    forged = RegisterUserCall(
        eth_key=other,
        stark_key=OTHER_STARK_KEY,
        signature=registration_signature(other, OTHER_STARK_KEY, signer=STRANGER),
    ).encode()
    with pytest.raises(RpcFailure) as estimate:
        rpc(url, "eth_estimateGas", {"from": other, "to": perpetual, "input": "0x" + forged.hex()})
    assert estimate.value.code == 3
    assert estimate.value.message == "execution reverted: INVALID_SIGNATURE"
    # The raw revert data is Error(string) for the relay to decode itself.
    assert estimate.value.data.startswith("0x08c379a0")
    assert eth_abi.decode(["string"], bytes.fromhex(estimate.value.data[10:])) == ("INVALID_SIGNATURE",)

    # Broadcast anyway (fixed gas): it is mined, fails, and registers nothing.
    receipt = send(url, OTHER_USER, perpetual, forged, gas=200_000)
    assert receipt["status"] == "0x0"
    assert receipt["logs"] == []
    with pytest.raises(RpcFailure, match="USER_UNREGISTERED"):
        call(url, perpetual, encode_get_eth_key(OTHER_STARK_KEY))


def test_register_user_checks_the_stark_key(chain: LocalChain) -> None:
    url, perpetual = chain.url, chain.deployment.stark_perpetual.address
    other = _address(OTHER_USER)
    selector = reference_keccak(b"registerUser(address,uint256,bytes)")[:4]

    def reason(stark_key: int, signature: bytes) -> str:
        data = selector + eth_abi.encode(["address", "uint256", "bytes"], [other, stark_key, signature])
        with pytest.raises(RpcFailure) as failure:
            call(url, perpetual, data, sender=other)
        assert failure.value.code == 3
        return failure.value.message

    # x is on the curve iff x^3 + x + beta is a non-zero square mod p (Euler's criterion).
    def on_curve(x: int) -> bool:
        rhs = (x**3 + x + STARK_BETA) % STARK_FIELD_PRIME
        return pow(rhs, (STARK_FIELD_PRIME - 1) // 2, STARK_FIELD_PRIME) == 1

    off_curve = next(x for x in range(2, 100) if not on_curve(x))
    assert on_curve(FOURTH_STARK_KEY)
    assert reason(0, registration_signature(other, 0)) == "execution reverted: INVALID_STARK_KEY"
    too_big = STARK_FIELD_PRIME
    assert reason(too_big, registration_signature(other, too_big)) == "execution reverted: INVALID_STARK_KEY"
    assert (
        reason(off_curve, registration_signature(other, off_curve)) == "execution reverted: INVALID_STARK_KEY"
    )
    short = registration_signature(other, FOURTH_STARK_KEY)[:64]
    assert reason(FOURTH_STARK_KEY, short) == "execution reverted: INVALID_SIGNATURE"
    # The same operator signature over another address does not register this one.
    wrong_subject = registration_signature(_address(USER), FOURTH_STARK_KEY)
    assert reason(FOURTH_STARK_KEY, wrong_subject) == "execution reverted: INVALID_SIGNATURE"
    # A valid signature passes all checks (eth_call succeeds, nothing is stored).
    good = selector + eth_abi.encode(
        ["address", "uint256", "bytes"],
        [other, FOURTH_STARK_KEY, registration_signature(other, FOURTH_STARK_KEY)],
    )
    assert call(url, perpetual, good, sender=other) == b""


def test_register_twice_and_deposit_checks(chain: LocalChain) -> None:
    url, deployment = chain.url, chain.deployment
    perpetual = deployment.stark_perpetual.address
    other = _address(OTHER_USER)
    register = RegisterUserCall(
        eth_key=other, stark_key=THIRD_STARK_KEY, signature=registration_signature(other, THIRD_STARK_KEY)
    )
    assert send(url, OTHER_USER, perpetual, register.encode())["status"] == "0x1"
    with pytest.raises(RpcFailure, match="execution reverted: STARK_KEY_UNAVAILABLE"):
        call(url, perpetual, register.encode(), sender=other)

    send(url, OTHER_USER, deployment.usdc.address, ApproveCall(spender=perpetual, amount=10**8).encode())

    def deposit(asset_type: int, vault_id: int = POSITION_ID, stark_key: int = THIRD_STARK_KEY) -> bytes:
        return reference_keccak(b"deposit(uint256,uint256,uint256,uint256)")[:4] + eth_abi.encode(
            ["uint256"] * 4, [stark_key, asset_type, vault_id, 5_000_000]
        )

    with pytest.raises(RpcFailure, match="execution reverted: INVALID_ASSET_TYPE"):
        call(url, perpetual, deposit(SEPOLIA_COLLATERAL_ASSET_ID), sender=other)
    with pytest.raises(RpcFailure, match="execution reverted: OUT_OF_RANGE_POSITION_ID"):
        call(url, perpetual, deposit(deployment.collateral_asset_id, vault_id=2**64), sender=other)
    with pytest.raises(RpcFailure, match="execution reverted: INVALID_STARK_KEY"):
        call(url, perpetual, deposit(deployment.collateral_asset_id, stark_key=OTHER_STARK_KEY), sender=other)
    # Without allowance the token refuses the transfer (the stranger approved nothing).
    with pytest.raises(RpcFailure, match="TRANSFER_AMOUNT_EXCEEDS_ALLOWANCE"):
        call(url, perpetual, deposit(deployment.collateral_asset_id), sender=_address(STRANGER))
    # A wrong asset id broadcast anyway is mined as a failure and moves no tokens.
    before = usdc_balance(chain, other)
    receipt = send(url, OTHER_USER, perpetual, deposit(SEPOLIA_COLLATERAL_ASSET_ID), gas=150_000)
    assert receipt["status"] == "0x0"
    assert usdc_balance(chain, other) == before
    # Like StarkEx, anyone may fund a registered key's position: the deposit is not owner-only.
    assert send(url, OTHER_USER, perpetual, deposit(deployment.collateral_asset_id))["status"] == "0x1"
    assert usdc_balance(chain, other) == before - 5_000_000


def test_replayed_and_stale_transactions_are_refused_with_node_messages(chain: LocalChain) -> None:
    url = chain.url
    other = _address(OTHER_USER)
    raw = build_tx(url, OTHER_USER, _address(STRANGER), value=1, gas=21_000)
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
    assert rpc(url, "eth_getTransactionReceipt", tx_hash)["status"] == "0x1"

    used_nonce = int(rpc(url, "eth_getTransactionCount", other, "latest"), 16) - 1
    # Replaying a mined transaction: as on geth, it is out of the pool and its nonce is used up.
    with pytest.raises(RpcFailure) as replay:
        rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
    assert replay.value.code == -32000
    assert replay.value.message.startswith("nonce too low: ")
    assert rpc(url, "eth_getTransactionReceipt", tx_hash)["status"] == "0x1"  # what the relay checks next

    stale = build_tx(url, OTHER_USER, _address(STRANGER), value=2, gas=21_000, nonce=used_nonce)
    with pytest.raises(RpcFailure) as too_low:
        rpc(url, "eth_sendRawTransaction", "0x" + stale.hex())
    assert too_low.value.code == -32000
    assert too_low.value.message.startswith("nonce too low: ")
    assert f"tx: {used_nonce} state: {used_nonce + 1}" in too_low.value.message


def test_other_transaction_refusals(chain: LocalChain) -> None:
    url = chain.url
    stranger = _address(STRANGER)

    def refusal(raw: bytes) -> str:
        with pytest.raises(RpcFailure) as failure:
            rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
        assert failure.value.code == -32000
        return failure.value.message

    broke = refusal(build_tx(url, STRANGER, _address(USER), value=1, gas=21_000))
    assert broke.startswith("insufficient funds for gas * price + value: ")
    assert stranger in broke
    wrong_chain = refusal(build_tx(url, USER, stranger, value=1, gas=21_000, chain_id=1))
    assert wrong_chain == f"invalid chain id for signer: have 1 want {CHAIN_ID}"
    assert refusal(build_tx(url, USER, stranger, value=1, gas=20_000)).startswith("intrinsic gas too low")
    # A legacy signature without EIP-155's chain id replays on every chain: geth refuses it over RPC.
    unprotected = Account.sign_transaction(
        {"nonce": 0, "gasPrice": 10**10, "gas": 21_000, "to": stranger, "value": 1}, USER.secret
    )
    assert refusal(bytes(unprotected.raw_transaction)) == (
        "only replay-protected (EIP-155) transactions allowed over RPC"
    )
    assert refusal(b"\x03\xc0") == "transaction type not supported"
    assert refusal(b"\x02\xc0").startswith("invalid transaction: ")
    assert refusal(b"\x01\xc0").startswith("invalid transaction: ")
    assert refusal(b"").startswith("invalid transaction: ")


def test_legacy_and_access_list_transactions_are_mined_and_reported_as_geth_does(chain: LocalChain) -> None:
    """Mainnet takes type 0 and type 1 transactions, and dYdX's own client sends type 0: so does this node."""
    url = chain.url
    user, stranger = _address(USER), _address(STRANGER)
    gas_price = int(rpc(url, "eth_gasPrice"), 16)
    before = int(rpc(url, "eth_getBalance", stranger, "latest"), 16)
    nonce = int(rpc(url, "eth_getTransactionCount", user, "pending"), 16)
    legacy = {
        "nonce": nonce,
        "gasPrice": gas_price,
        "gas": 21_000,
        "to": stranger,
        "value": 7,
        "chainId": CHAIN_ID,
    }
    access_list = {
        "type": 1,
        "nonce": nonce + 1,
        "gasPrice": gas_price,
        "gas": 30_000,
        "to": stranger,
        "value": 11,
        "chainId": CHAIN_ID,
        "accessList": [{"address": stranger, "storageKeys": ["0x" + "00" * 31 + "01"]}],
    }
    for fields, tx_type in ((legacy, "0x0"), (access_list, "0x1")):
        signed = Account.sign_transaction(fields, USER.secret)
        tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
        assert tx_hash == "0x" + bytes(signed.hash).hex()
        receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
        assert (receipt["status"], receipt["type"]) == ("0x1", tx_type)
        assert int(receipt["effectiveGasPrice"], 16) == gas_price  # a gas price is paid as it is
        seen = rpc(url, "eth_getTransactionByHash", tx_hash)
        assert (seen["type"], seen["from"], int(seen["gasPrice"], 16)) == (tx_type, user.lower(), gas_price)
        assert "maxFeePerGas" not in seen
        assert ("accessList" in seen) is (tx_type == "0x1")
        # eth-account reports EIP-155's v for type 0 and the y parity for type 1, as geth's answer does.
        assert (int(seen["v"], 16), int(seen["r"], 16), int(seen["s"], 16)) == (signed.v, signed.r, signed.s)
    assert int(rpc(url, "eth_getBalance", stranger, "latest"), 16) == before + 18
    # Replaying a mined legacy transaction is refused like any other.
    with pytest.raises(RpcFailure, match=r"^nonce too low"):
        rpc(
            url,
            "eth_sendRawTransaction",
            "0x" + bytes(Account.sign_transaction(legacy, USER.secret).raw_transaction).hex(),
        )


def test_replacement_needs_a_fee_bump_and_future_nonces_wait(chain: LocalChain) -> None:
    url = chain.url
    user, stranger = _address(USER), _address(STRANGER)
    nonce = int(rpc(url, "eth_getTransactionCount", user, "latest"), 16)
    # nonce + 1 cannot run yet: it waits in the pool, without a receipt.
    queued = build_tx(url, USER, stranger, value=10, gas=21_000, nonce=nonce + 1, tip=2 * 10**9)
    queued_hash = rpc(url, "eth_sendRawTransaction", "0x" + queued.hex())
    pending = rpc(url, "eth_getTransactionByHash", queued_hash)
    assert pending["blockNumber"] is None and pending["from"] == user.lower()
    assert rpc(url, "eth_getTransactionReceipt", queued_hash) is None
    with pytest.raises(RpcFailure, match=r"^already known$"):
        rpc(url, "eth_sendRawTransaction", "0x" + queued.hex())

    same_fee = build_tx(url, USER, stranger, value=11, gas=21_000, nonce=nonce + 1, tip=2 * 10**9)
    with pytest.raises(RpcFailure, match=r"^replacement transaction underpriced$"):
        rpc(url, "eth_sendRawTransaction", "0x" + same_fee.hex())
    bumped = build_tx(url, USER, stranger, value=12, gas=21_000, nonce=nonce + 1, tip=3 * 10**9)
    bumped_hash = rpc(url, "eth_sendRawTransaction", "0x" + bumped.hex())
    assert rpc(url, "eth_getTransactionByHash", queued_hash) is None

    # Filling the gap mines both, in nonce order.
    before = int(rpc(url, "eth_getBalance", stranger, "latest"), 16)
    first = send(url, USER, stranger, value=1, gas=21_000, nonce=nonce)
    assert first["status"] == "0x1"
    replacement = rpc(url, "eth_getTransactionReceipt", bumped_hash)
    assert replacement["status"] == "0x1"
    assert int(rpc(url, "eth_getBalance", stranger, "latest"), 16) == before + 1 + 12
    assert int(rpc(url, "eth_getTransactionCount", user, "latest"), 16) == nonce + 2


def test_transaction_signed_by_eth_account_is_accepted(chain: LocalChain) -> None:
    url = chain.url
    user = _address(USER)
    nonce = int(rpc(url, "eth_getTransactionCount", user, "pending"), 16)
    fees = rpc(url, "eth_feeHistory", "0x4", "latest", [25, 75])
    assert len(fees["baseFeePerGas"]) == 5 and len(fees["reward"]) == 4
    next_base_fee = int(fees["baseFeePerGas"][-1], 16)
    signed = Account.sign_transaction(
        {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": nonce,
            "maxPriorityFeePerGas": int(rpc(url, "eth_maxPriorityFeePerGas"), 16),
            "maxFeePerGas": 2 * next_base_fee + 10**9,
            "gas": 21_000,
            "to": _address(STRANGER),
            "value": 3,
            "data": b"",
        },
        USER.secret,
    )
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
    assert tx_hash == "0x" + bytes(signed.hash).hex()
    mined = rpc(url, "eth_getTransactionByHash", tx_hash)
    receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
    block = rpc(url, "eth_getBlockByNumber", mined["blockNumber"], True)
    assert block["transactions"] == [mined]
    assert receipt["gasUsed"] == hex(21_000)
    effective = int(receipt["effectiveGasPrice"], 16)
    assert effective == int(block["baseFeePerGas"], 16) + 10**9
    assert rpc(url, "eth_getBlockByHash", block["hash"], False)["transactions"] == [tx_hash]


def test_json_rpc_envelope_errors(chain: LocalChain) -> None:
    url = chain.url
    with pytest.raises(RpcFailure) as unknown:
        rpc(url, "eth_sign", "0x00", "0x00")
    assert unknown.value.code == -32601
    with pytest.raises(RpcFailure) as padded:
        rpc(url, "eth_getBlockByNumber", "0x01", False)
    assert padded.value.code == -32602
    with pytest.raises(RpcFailure) as odd:
        rpc(url, "eth_sendRawTransaction", "0x123")
    assert odd.value.code == -32602
    assert rpc(url, "eth_getBlockByNumber", "0xffffff", False) is None
    assert rpc(url, "eth_getTransactionReceipt", "0x" + "00" * 32) is None
    garbage = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbage.json()["error"]["code"] == -32700
    batch = httpx.post(
        url,
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
        ],
    ).json()
    assert [item["id"] for item in batch] == [1, 2] and batch[0]["result"] == hex(CHAIN_ID)
    assert httpx.get(url).status_code == 405


def test_without_automine_transactions_stay_pending_until_mined() -> None:
    user = _address(USER)
    with start_local_chain(operator=_address(OPERATOR), fund=[f"{user}:1:0"], automine=False) as chain:
        url = chain.url
        head = int(rpc(url, "eth_blockNumber"), 16)
        raw = build_tx(url, USER, _address(STRANGER), value=5, gas=21_000)
        tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
        assert rpc(url, "eth_getTransactionReceipt", tx_hash) is None
        assert rpc(url, "eth_getTransactionCount", user, "pending") == "0x1"
        assert rpc(url, "eth_getTransactionCount", user, "latest") == "0x0"
        with pytest.raises(RpcFailure, match=r"^already known$"):
            rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
        assert rpc(url, "evm_mine") == hex(head + 1)
        receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1" and receipt["blockNumber"] == hex(head + 1)


def test_command_line_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "deployment.json"
    funded = _address(USER)
    proc = subprocess.Popen(
        [
            str(BIN / "dydx-relay"),
            "serve-chain",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--chain-id",
            "31337",
            "--operator",
            _address(OPERATOR),
            "--fund",
            f"{funded}:2",
            "--deployment-out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while not out.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the chain did not publish its deployment"
            time.sleep(0.05)
        deployment = json.loads(out.read_text())
        url = deployment["rpcUrl"]
        assert url.startswith("http://127.0.0.1:")
        assert rpc(url, "eth_chainId") == hex(31337)
        assert int(rpc(url, "eth_getBalance", funded, "latest"), 16) == 2 * 10**18
        assert deployment["collateralAssetId"] == rpc(url, "dydx_localChain")["collateralAssetId"]
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert url in stdout


def test_command_line_refuses_bad_input_cleanly() -> None:
    result = subprocess.run(
        [str(BIN / "dydx-relay"), "serve-chain", "--port", "0", "--operator", "0x1234"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    bad_fund = subprocess.run(
        [
            str(BIN / "dydx-relay"),
            "serve-chain",
            "--port",
            "0",
            "--operator",
            _address(OPERATOR),
            "--fund",
            f"{_address(USER)}:1:1.0000001",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_fund.returncode != 0 and "6 decimals" in bad_fund.stderr
