"""The dYdX v3 escape hatch rehearsed on the local chain: real py-evm node, real JSON-RPC and HTTP on 127.0.0.1.

Three chains: one started frozen on the real mainnet position-1 state (``--escape-fixture mainnet-pos1``),
one onboarded like a user would be (register, approve, deposit) whose state update adds generated
multi-asset positions with negative funding and which is then frozen through the real forced-withdrawal
path, and one frozen from the ``freeze-chain`` command line. Calldata is built with eth_abi and amounts are
recomputed here from the proof and state words, so neither the rehearsal's own encoders nor its
valuation hide a mistake in the contracts.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve
import eth_abi
import httpx
import pytest
from eth_utils import keccak as reference_keccak

from dydx_airgap.online.rehearsal.escape.fixtures import asset_id_of, build_escape_state
from dydx_airgap.online.rehearsal.escape.leaf import AssetBalance, Position, hash_chain
from dydx_airgap.online.rehearsal.escape.proof import merkle_proof_from_items, pack_pair
from dydx_airgap.online.rehearsal.escape.service import ESCAPE_FIXTURES, attach_escape
from dydx_airgap.online.rehearsal.escape.tree import SparsePositionTree
from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
from dydx_airgap.online.rehearsal.evm.pedersen_precompile import PEDERSEN_GAS
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, get_network
from dydx_airgap.shared.ethereum.address import address_from_public_key, parse_address
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from dydx_airgap.shared.stark.keys import private_to_stark_key
from dydx_airgap.shared.stark.pedersen import pedersen_hash
from tests.conftest import BIN, KIT, REPO

CHAIN_ID = LOCAL_REHEARSAL_CHAIN_ID
VECTOR = json.loads((KIT / "vectors" / "escape-mainnet-pos1.json").read_text())
MAINNET_PROOF = [int(word, 16) for word in VECTOR["merkle_proof"]]
MAINNET_STATE = [int(word, 16) for word in VECTOR["shared_state"]]
MAINNET_STARK_KEY = int(VECTOR["stark_key"], 16)
MAINNET_OWNER = VECTOR["ethereum_address"]
MAINNET_AMOUNT = VECTOR["expected_withdrawal_quantized"]
EMPTY_ROOT = 0x052DDCBDD431A044CF838A71D194248640210B316D7B1A568997ECAD9DEC9626
MAINNET_ASSET_TYPE = 0x02893294412A4C8F915F75892B395EBBF6859EC246EC365C3B1F56F47C3A0A5D
VERIFY_GAS = 4_000_000  # a fixed limit: estimating a 66-hash proof by bisection costs seconds
FREEZE_GRACE_PERIOD = 1209600
DEPOSIT_CANCEL_DELAY = 604800


def _key(label: str) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(hashlib.sha256(b"dydx-airgap escape test key " + label.encode()).digest())


def _address(key: coincurve.PrivateKey) -> str:
    return address_from_public_key(key.public_key.format(compressed=False))


def _stark_key(label: str) -> int:
    return private_to_stark_key(1 + int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % 2**250)


OPERATOR, USER, OTHER, STRANGER = (_key(name) for name in ("operator", "user", "other", "stranger"))
USER_STARK, OTHER_STARK = _stark_key("user"), _stark_key("other")
USER_POSITION, OTHER_POSITION = 101, 202
USER_DEPOSIT, OTHER_DEPOSIT, LATE_DEPOSIT = 1_250_500_000, 77_000_000, 5_000_000


# --- JSON-RPC, transactions and calldata --------------------------------------------------------------


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.code = error["code"]
        self.message = error["message"]


def rpc(url: str, method: str, *params: Any) -> Any:
    body = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=120
    )
    answer = body.json()
    if "error" in answer:
        raise RpcFailure(answer["error"])
    return answer["result"]


def selector(signature: str) -> bytes:
    return reference_keccak(signature.encode())[:4]


def encode(signature: str, *args: Any) -> bytes:
    types = signature[signature.index("(") + 1 : -1].split(",") if not signature.endswith("()") else []
    return selector(signature) + eth_abi.encode(types, list(args))


def send(url: str, key: coincurve.PrivateKey, to: str, data: bytes, gas: int | None = None) -> dict[str, Any]:
    sender = _address(key)
    if gas is None:
        estimate = rpc(
            url, "eth_estimateGas", {"from": sender, "to": to, "input": "0x" + data.hex()}, "latest"
        )
        gas = int(estimate, 16) * 5 // 4
    base_fee = int(rpc(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx = Eip1559Transaction(
        chain_id=CHAIN_ID,
        nonce=int(rpc(url, "eth_getTransactionCount", sender, "pending"), 16),
        max_priority_fee_per_gas=10**9,
        max_fee_per_gas=2 * base_fee + 10**9,
        gas_limit=gas,
        to=parse_address(to),
        value=0,
        data=data,
    )
    raw = tx.with_signature(key.sign_recoverable(tx.signing_hash(), hasher=None)).raw()
    receipt = rpc(url, "eth_getTransactionReceipt", rpc(url, "eth_sendRawTransaction", "0x" + raw.hex()))
    assert receipt is not None
    return receipt


def call(url: str, to: str, data: bytes, sender: str | None = None) -> bytes:
    request = {"to": to, "input": "0x" + data.hex()}
    if sender is not None:
        request["from"] = sender
    return bytes.fromhex(rpc(url, "eth_call", request, "latest")[2:])


def reverts(url: str, to: str, data: bytes, sender: str | None = None) -> str:
    """The revert reason of an eth_call that must revert (geth's code 3)."""
    with pytest.raises(RpcFailure) as failure:
        call(url, to, data, sender)
    assert failure.value.code == 3, failure.value.message
    return failure.value.message.removeprefix("execution reverted: ")


def uint(url: str, to: str, signature: str, *args: Any) -> int:
    return int.from_bytes(call(url, to, encode(signature, *args)), "big")


def verify_calldata(proof: Sequence[int], n_assets: int, state: Sequence[int]) -> bytes:
    return encode("verifyEscape(uint256[],uint256,uint256[])", list(proof), n_assets, list(state))


def usdc_balance(chain: LocalChain, owner: str) -> int:
    return uint(chain.url, chain.deployment.usdc.address, "balanceOf(address)", owner)


def topic(signature: str) -> str:
    return "0x" + reference_keccak(signature.encode()).hex()


def escape_page(chain: LocalChain, position_id: int, account: str | None) -> httpx.Response:
    cookies = {"account": account} if account is not None else None
    return httpx.get(f"{chain.url}/explorer/escape/{position_id}", cookies=cookies)


def form_props(page: httpx.Response) -> dict[str, Any]:
    assert page.status_code == 200, page.text
    match = re.search(r'<form id="verify-escape-request-form" data-props="([^"]*)"', page.text)
    assert match is not None
    props: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return props


def refusal(page: httpx.Response) -> str:
    assert page.status_code == 404
    assert "verify-escape-request-form" not in page.text
    match = re.search(r'<p class="message">([^<]*)</p>', page.text)
    assert match is not None
    return html.unescape(match.group(1))


# --- an independent reading of the words: position, balance, amount ------------------------------------


def right_nodes(proof: Sequence[int], count: int) -> list[int]:
    return [((proof[2 * i] & 0xF) << 248) | (proof[2 * i + 1] >> 8) for i in range(count)]


@dataclass
class Valuation:
    amount: int
    funding: int  # the funding total in 32.32, before rounding
    amount_rounding_funding_toward_zero: int


def value_position(proof: Sequence[int], n_assets: int, state: Sequence[int]) -> Valuation:
    """verifyEscape's amount from the words, written from the spec (§A5 and its Corrections)."""
    items = right_nodes(proof, n_assets + 2)
    collateral = (items[-1] >> 16) - 2**63
    n_funding = state[4]
    funding = {state[5 + 2 * i]: state[6 + 2 * i] - 2**63 for i in range(n_funding)}
    prices_at = 5 + 2 * n_funding + 2
    prices = {state[prices_at + 2 * i]: state[prices_at + 2 * i + 1] for i in range(state[prices_at - 1])}
    value, funding_total = collateral * 2**32, 0
    for item in items[:n_assets]:
        asset_id, cached, balance = (
            item >> 128,
            ((item >> 64) & (2**64 - 1)) - 2**63,
            (item & (2**64 - 1)) - 2**63,
        )
        value += balance * prices[asset_id]
        funding_total -= balance * (funding[asset_id] - cached)
    floor = (value + (funding_total // 2**32) * 2**32) // 2**32
    sign = 1 if funding_total >= 0 else -1
    toward_zero = (value + sign * (abs(funding_total) // 2**32) * 2**32) // 2**32
    return Valuation(floor, funding_total, toward_zero)


# --- chains ----------------------------------------------------------------------------------------------


def escape_setup(fixture: str | None = None) -> Callable[[LocalChain], None]:
    """What serve-chain does before it answers: the explorer, the escape RPC methods, the fixture."""

    def setup(chain: LocalChain) -> None:
        attach_escape(chain, fixture)

    return setup


@pytest.fixture(scope="module")
def mainnet_chain() -> Iterator[LocalChain]:
    """Frozen from the start on the real position-1 state (what serve-chain --escape-fixture does)."""
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=CHAIN_ID,
        fund=[f"{_address(STRANGER)}:10:0"],
        setup=escape_setup("mainnet-pos1"),
    ) as chain:
        yield chain


@pytest.fixture(scope="module")
def onboarded() -> Iterator[LocalChain]:
    """Two users onboarded on chain, a state update with 4 generated positions (owned by USER), then a
    deposit that no state update ever takes. Not frozen yet."""
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=CHAIN_ID,
        fund=[f"{_address(USER)}:10:10000", f"{_address(OTHER)}:10:1000", f"{_address(STRANGER)}:10:0"],
        setup=escape_setup(),
    ) as chain:
        url, perpetual, usdc = (
            chain.url,
            chain.deployment.stark_perpetual.address,
            chain.deployment.usdc.address,
        )
        asset = chain.deployment.collateral_asset_id
        for key, stark_key, position_id, amount in (
            (USER, USER_STARK, USER_POSITION, USER_DEPOSIT),
            (OTHER, OTHER_STARK, OTHER_POSITION, OTHER_DEPOSIT),
        ):
            owner = _address(key)
            digest = reference_keccak(
                b"UserRegistration:" + parse_address(owner) + stark_key.to_bytes(32, "big")
            )
            compact = OPERATOR.sign_recoverable(digest, hasher=None)
            signature = compact[:64] + bytes([compact[64] + 27])
            register = encode("registerUser(address,uint256,bytes)", owner, stark_key, signature)
            assert send(url, key, perpetual, register)["status"] == "0x1"
            assert (
                send(url, key, usdc, encode("approve(address,uint256)", perpetual, 2**256 - 1))["status"]
                == "0x1"
            )
            deposit = encode(
                "deposit(uint256,uint256,uint256,uint256)", stark_key, asset, position_id, amount
            )
            assert send(url, key, perpetual, deposit)["status"] == "0x1"
        update = rpc(
            url, "dydx_localEscapeUpdateState", {"syntheticPositions": 4, "syntheticOwner": _address(USER)}
        )
        assert not update["frozen"] and update["batchId"] == 1
        late = encode(
            "deposit(uint256,uint256,uint256,uint256)", USER_STARK, asset, USER_POSITION, LATE_DEPOSIT
        )
        assert send(url, USER, perpetual, late)["status"] == "0x1"
        yield chain


@pytest.fixture(scope="module")
def frozen(onboarded: LocalChain) -> LocalChain:
    """The onboarded chain, frozen: by the forced-withdrawal test if it ran, else by the freezer's RPC."""
    if rpc(onboarded.url, "dydx_localEscapeBook")["frozen"] is False:
        rpc(onboarded.url, "dydx_localEscapeFreeze", {"updateState": False})
    return onboarded


def synthetic_ids(chain: LocalChain) -> list[int]:
    book = rpc(chain.url, "dydx_localEscapeBook")
    return [int(p["positionId"]) for p in book["positions"] if p["synthetic"]]


# --- the pieces -----------------------------------------------------------------------------------------


def test_the_stand_ins_never_import_the_relays_escape_code() -> None:
    # Agreement between the stand-in contracts and the relay's Python verifier is only evidence if
    # neither is built from the other.
    pattern = re.compile(r"dydx_v3\.escape|dydx_v3 import .*\bescape\b")
    for path in (REPO / "online" / "rehearsal").rglob("*.py"):
        assert not pattern.search(path.read_text()), path


def test_the_packaged_mainnet_vector_is_the_kits_and_the_cli_knows_every_fixture() -> None:
    packaged = REPO / "online" / "rehearsal" / "escape" / "data" / "escape-mainnet-pos1.json"
    assert packaged.read_bytes() == (KIT / "vectors" / "escape-mainnet-pos1.json").read_bytes()
    from dydx_airgap.online.rehearsal import commands

    assert commands.ESCAPE_FIXTURE_CHOICES == ESCAPE_FIXTURES


def test_contracts_sit_at_the_addresses_networks_lists(mainnet_chain: LocalChain) -> None:
    network, deployment = get_network("local"), mainnet_chain.deployment
    assert (deployment.usdc.address, deployment.stark_perpetual.address) == (
        network.usdc,
        network.stark_perpetual,
    )
    assert deployment.escape_verifier.address == network.escape_verifier
    published = rpc(mainnet_chain.url, "dydx_localChain")
    assert published["escapeVerifier"] == network.escape_verifier
    assert published["explorer"] == mainnet_chain.url + "/explorer"
    assert published["events"]["LogEscapeVerified"] == topic(
        "LogEscapeVerified(uint256,int256,bytes32,uint256)"
    )
    verifier = deployment.escape_verifier.address
    identity = eth_abi.decode(["string"], call(mainnet_chain.url, verifier, selector("identify()")))[0]
    assert identity.startswith("StarkWare_PerpetualEscapeVerifier_2021_2 stand-in")


def test_pedersen_precompile_hashes_like_starkware_and_refuses_non_field_input(
    mainnet_chain: LocalChain,
) -> None:
    url, address = mainnet_chain.url, rpc(mainnet_chain.url, "dydx_localChain")["pedersenPrecompile"]
    assert address == "0x0000000000000000000000000000000000E5ca9e"
    a, b = int("aa" * 31, 16), int("bb" * 31, 16)
    digest = call(url, address, a.to_bytes(32, "big") + b.to_bytes(32, "big"))
    assert (
        digest.hex() == "059fa7bb82f5f1a8d8f03f06fbf1f2829548f2d87b6d2e5a8f2cf4e6cb4b53da"
    )  # the explorer's test value
    assert int.from_bytes(digest, "big") == pedersen_hash(a, b)
    assert "field prime" in reverts(url, address, FIELD_PRIME.to_bytes(32, "big") + bytes(32))
    assert "64 bytes" in reverts(url, address, bytes(63))
    receipt = send(url, STRANGER, address, bytes(64), gas=100_000)
    assert receipt["status"] == "0x1"
    assert (
        int(receipt["gasUsed"], 16) == 21_000 + 64 * 4 + PEDERSEN_GAS
    )  # intrinsic, 64 zero bytes, fixed cost


def test_evm_increase_time_moves_the_next_blocks_time(mainnet_chain: LocalChain) -> None:
    url = mainnet_chain.url
    before = int(rpc(url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    assert isinstance(rpc(url, "evm_increaseTime", 3600), int)
    rpc(url, "evm_mine")
    after = int(rpc(url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    assert after >= before + 3600
    rpc(url, "evm_increaseTime", "0x10")
    rpc(url, "evm_mine")
    assert int(rpc(url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16) >= after + 16
    for bad in (-1, "16", True):
        with pytest.raises(RpcFailure) as failure:
            rpc(url, "evm_increaseTime", bad)
        assert failure.value.code == -32602


# --- the mainnet vector --------------------------------------------------------------------------------


def test_explorer_serves_the_mainnet_escape_only_to_the_registered_address(mainnet_chain: LocalChain) -> None:
    props = form_props(escape_page(mainnet_chain, 1, MAINNET_OWNER.lower()))
    assert props == {
        "escapeVerifierAddress": get_network("local").escape_verifier,
        "positionOrVaultId": "1",
        "starkKey": VECTOR["stark_key"],
        "tradingMode": "perpetual",
        "serializedMerkleProof": [str(word) for word in MAINNET_PROOF],
        "assetCount": 0,
        "serializedState": [str(word) for word in MAINNET_STATE],
    }
    assert "No account" in refusal(escape_page(mainnet_chain, 1, None))
    assert "does not belong" in refusal(escape_page(mainnet_chain, 1, _address(STRANGER)))
    assert "not found" in refusal(escape_page(mainnet_chain, 2, MAINNET_OWNER))
    proof_page = httpx.get(f"{mainnet_chain.url}/explorer/proof/1")
    leaf = json.loads(
        html.unescape(re.search(r'<pre id="merkle-proof">(.*)</pre>', proof_page.text, re.S).group(1))
    )
    assert leaf["collateralBalance"] == str(MAINNET_AMOUNT) and leaf["assets"] == []
    assert leaf["root"] == VECTOR["root"] and leaf["sharedStateHash"] == VECTOR["shared_state_hash"]
    assert len(leaf["path"]) == 64


def test_mainnet_vector_mutations_fail_with_the_compiled_contracts_strings(mainnet_chain: LocalChain) -> None:
    url, verifier = mainnet_chain.url, mainnet_chain.deployment.escape_verifier.address

    def replaced(words: Sequence[int], index: int, value: int) -> list[int]:
        changed = list(words)
        changed[index] = value
        return changed

    def with_pair(pair: int, left: int, right: int) -> list[int]:
        first, second = pack_pair(left, right)
        return replaced(replaced(MAINNET_PROOF, 2 * pair, first), 2 * pair + 1, second)

    level_10 = right_nodes(MAINNET_PROOF, 11)[10]
    cases: list[tuple[str, Sequence[int], int, Sequence[int], str]] = [
        (
            "one flipped path word",
            replaced(MAINNET_PROOF, 41, MAINNET_PROOF[41] ^ 1 << 100),
            0,
            MAINNET_STATE,
            "Bad Merkle path.",
        ),
        ("wrong nAssets", MAINNET_PROOF, 1, MAINNET_STATE, "merkleProof is inconsistent with nAssets."),
        (
            "wrong height",
            MAINNET_PROOF,
            0,
            replaced(MAINNET_STATE, 1, 63),
            "merkleProof is inconsistent with the height in the sharedState.",
        ),
        (
            "wrong root",
            MAINNET_PROOF,
            0,
            replaced(MAINNET_STATE, 0, MAINNET_STATE[0] ^ 1),
            "merkleProof is inconsistent with the root in the sharedState.",
        ),
        # Correction 1: the position is extracted first, so an odd index fails the nAssets check.
        (
            "odd node index",
            replaced(MAINNET_PROOF, -1, 5 << 8),
            0,
            MAINNET_STATE,
            "merkleProof is inconsistent with nAssets.",
        ),
        (
            "node index outside the tree",
            replaced(MAINNET_PROOF, -1, 2**66 << 8),
            0,
            MAINNET_STATE,
            "nodeIdx not in tree.",
        ),
        # Correction 2: the range check of a level comes before its path check.
        (
            "a node at the field prime",
            with_pair(10, FIELD_PRIME, level_10),
            0,
            MAINNET_STATE,
            "Value out of range.",
        ),
        (
            "the STARK key at the field prime",
            with_pair(0, 0, FIELD_PRIME),
            0,
            MAINNET_STATE,
            "Bad starkKey or assetId.",
        ),
        # Correction 1: a truncated proof fails the height check before any length check.
        (
            "truncated by one level",
            MAINNET_PROOF[:-4] + MAINNET_PROOF[-2:],
            0,
            MAINNET_STATE,
            "merkleProof is inconsistent with the height in the sharedState.",
        ),
        (
            "an odd number of words",
            [*MAINNET_PROOF[:4], 0, *MAINNET_PROOF[4:]],
            0,
            MAINNET_STATE,
            "Proof length must be even.",
        ),
        (
            "a chain not starting at 0",
            replaced(MAINNET_PROOF, 0, 1 << 8),
            0,
            MAINNET_STATE,
            "Position hash-chain must start with 0.",
        ),
        # Where the compiled contract would run off an array, the stand-in says so.
        ("no proof", [], 0, MAINNET_STATE, "stand-in: merkleProof is empty."),
        (
            "a state of four words",
            MAINNET_PROOF,
            0,
            MAINNET_STATE[:4],
            "stand-in: sharedState ends before the entry being read.",
        ),
        (
            "fewer pairs than the position",
            replaced(MAINNET_PROOF, -1, 0),
            100,
            MAINNET_STATE,
            "stand-in: merkleProof ends inside the nAssets + 2 position pairs.",
        ),
    ]
    for name, proof, n_assets, state, expected in cases:
        assert reverts(url, verifier, verify_calldata(proof, n_assets, state)) == expected, name
    # Correction 5: padding bits are not read, so a proof with nonzero padding verifies too.
    padded = replaced(MAINNET_PROOF, 3, MAINNET_PROOF[3] | 0xFF)
    call(url, verifier, verify_calldata(padded, 0, MAINNET_STATE))


def test_mainnet_vector_registers_its_fact_and_escape_pays_the_registered_address_exactly(
    mainnet_chain: LocalChain, figure: Any
) -> None:
    url, deployment = mainnet_chain.url, mainnet_chain.deployment
    verifier, perpetual = deployment.escape_verifier.address, deployment.stark_perpetual.address
    asset = deployment.collateral_asset_id
    data = verify_calldata(MAINNET_PROOF, 0, MAINNET_STATE)
    assert len(data) == VECTOR["verify_escape_calldata_length"]
    assert "0x" + reference_keccak(data).hex() == VECTOR["verify_escape_calldata_keccak"]
    assert uint(url, perpetual, "isFrozen()") == 1

    verified = send(url, STRANGER, verifier, data, gas=VERIFY_GAS)  # anyone may send it
    assert verified["status"] == "0x1"
    (log,) = verified["logs"]
    assert log["address"] == verifier.lower()
    assert log["topics"] == ["0x37a0572848114e81e49af27488e37a0944e66191652859725ed3e64c210ec1c7"]
    fields = eth_abi.decode(["uint256", "int256", "bytes32", "uint256"], bytes.fromhex(log["data"][2:]))
    assert fields == (MAINNET_STARK_KEY, MAINNET_AMOUNT, bytes.fromhex(VECTOR["shared_state_hash"][2:]), 1)
    gas_used = int(verified["gasUsed"], 16)
    figure(f"verifyEscape of the mainnet vector on the stand-in: {gas_used} gas")
    assert 1_500_000 < gas_used < 3_500_000  # the compiled verifier: ~2.5 M; the block limit is 30 M
    fact = bytes.fromhex(VECTOR["escape_fact"][2:])
    assert uint(url, verifier, "isValid(bytes32)", fact) == 1

    assert (
        reverts(
            url,
            perpetual,
            encode("escape(uint256,uint256,uint256)", MAINNET_STARK_KEY, 1, MAINNET_AMOUNT - 1),
        )
        == "ESCAPE_LACKS_PROOF"
    )
    escape = encode("escape(uint256,uint256,uint256)", MAINNET_STARK_KEY, 1, MAINNET_AMOUNT)
    assert "0x" + escape.hex() == VECTOR["escape_calldata"]
    escaped = send(url, STRANGER, perpetual, escape)
    assert escaped["status"] == "0x1"
    (allowed,) = escaped["logs"]
    assert allowed["topics"] == [topic("LogWithdrawalAllowed(uint256,uint256,uint256,uint256)")]
    assert eth_abi.decode(["uint256"] * 4, bytes.fromhex(allowed["data"][2:])) == (
        MAINNET_STARK_KEY,
        asset,
        MAINNET_AMOUNT,
        MAINNET_AMOUNT,
    )
    assert (
        uint(url, perpetual, "getWithdrawalBalance(uint256,uint256)", MAINNET_STARK_KEY, asset)
        == MAINNET_AMOUNT
    )
    assert reverts(url, perpetual, escape) == "ESCAPE_ALREADY_USED"
    assert "already used" in refusal(escape_page(mainnet_chain, 1, MAINNET_OWNER))

    # The vector's withdraw calldata names mainnet's USDC asset type; this chain's is its own.
    mainnet_withdraw = bytes.fromhex(VECTOR["withdraw_calldata"][2:])
    assert int.from_bytes(mainnet_withdraw[36:], "big") == MAINNET_ASSET_TYPE
    assert reverts(url, perpetual, mainnet_withdraw) == "ASSET_TYPE_NOT_REGISTERED"
    owner_before, contract_before = (
        usdc_balance(mainnet_chain, MAINNET_OWNER),
        usdc_balance(mainnet_chain, perpetual),
    )
    withdraw = encode("withdraw(uint256,uint256)", MAINNET_STARK_KEY, asset)
    withdrawn = send(url, STRANGER, perpetual, withdraw)  # anyone may send it; the owner is paid
    assert withdrawn["status"] == "0x1"
    assert usdc_balance(mainnet_chain, MAINNET_OWNER) == owner_before + MAINNET_AMOUNT
    assert usdc_balance(mainnet_chain, perpetual) == contract_before - MAINNET_AMOUNT
    performed = [entry for entry in withdrawn["logs"] if entry["address"] == perpetual.lower()]
    assert eth_abi.decode(
        ["uint256", "uint256", "uint256", "uint256", "address"], bytes.fromhex(performed[0]["data"][2:])
    ) == (MAINNET_STARK_KEY, asset, MAINNET_AMOUNT, MAINNET_AMOUNT, MAINNET_OWNER.lower())
    again = send(url, STRANGER, perpetual, withdraw)  # succeeds, and moves nothing
    assert again["status"] == "0x1"
    assert usdc_balance(mainnet_chain, MAINNET_OWNER) == owner_before + MAINNET_AMOUNT
    assert uint(url, perpetual, "getWithdrawalBalance(uint256,uint256)", MAINNET_STARK_KEY, asset) == 0


# --- the onboarded chain: freezing the real way ---------------------------------------------------------


def test_freeze_needs_an_unserviced_forced_withdrawal_older_than_fourteen_days(onboarded: LocalChain) -> None:
    url, perpetual = onboarded.url, onboarded.deployment.stark_perpetual.address
    if uint(url, perpetual, "isFrozen()") == 1:
        pytest.skip("the chain was frozen by another test's fixture first")
    assert uint(url, perpetual, "FREEZE_GRACE_PERIOD()") == FREEZE_GRACE_PERIOD
    assert "not frozen" in refusal(escape_page(onboarded, USER_POSITION, _address(USER)))
    escape = encode("escape(uint256,uint256,uint256)", USER_STARK, USER_POSITION, USER_DEPOSIT)
    assert reverts(url, perpetual, escape) == "STATE_NOT_FROZEN"

    request = (USER_STARK, USER_POSITION, 1000)
    forced = encode("forcedWithdrawalRequest(uint256,uint256,uint256,bool)", *request, False)
    assert reverts(url, perpetual, forced, _address(STRANGER)) == "MISMATCHING_STARK_ETH_KEYS"
    assert send(url, USER, perpetual, forced)["logs"][0]["topics"] == [
        topic("LogForcedWithdrawalRequest(uint256,uint256,uint256)")
    ]
    assert reverts(url, perpetual, forced, _address(USER)) == "REQUEST_ALREADY_PENDING"
    freeze = encode("freezeRequest(uint256,uint256,uint256)", *request)
    assert reverts(url, perpetual, freeze, _address(STRANGER)) == "FORCED_ACTION_PENDING"
    unrequested = encode("freezeRequest(uint256,uint256,uint256)", USER_STARK, USER_POSITION, 999)
    assert reverts(url, perpetual, unrequested, _address(STRANGER)) == "FORCED_ACTION_UNREQUESTED"

    rpc(url, "evm_increaseTime", FREEZE_GRACE_PERIOD - 100)
    rpc(url, "evm_mine")
    assert reverts(url, perpetual, freeze, _address(STRANGER)) == "FORCED_ACTION_PENDING"
    rpc(url, "evm_increaseTime", 200)
    rpc(url, "evm_mine")
    frozen_receipt = send(url, STRANGER, perpetual, freeze)  # anyone may freeze once the grace passed
    assert frozen_receipt["logs"][0]["topics"] == [topic("LogFrozen()")]
    assert uint(url, perpetual, "isFrozen()") == 1
    deposit = encode(
        "deposit(uint256,uint256,uint256,uint256)",
        USER_STARK,
        onboarded.deployment.collateral_asset_id,
        USER_POSITION,
        1,
    )
    for refused in (freeze, forced, deposit):
        assert reverts(url, perpetual, refused, _address(USER)) == "STATE_IS_FROZEN"
    with pytest.raises(RpcFailure, match="frozen"):
        rpc(url, "dydx_localEscapeUpdateState")


def test_last_update_state_carries_the_state_the_explorer_serves(frozen: LocalChain) -> None:
    url, deployment = frozen.url, frozen.deployment
    perpetual, asset = deployment.stark_perpetual.address, deployment.collateral_asset_id
    logs = rpc(
        url,
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": perpetual,
            "topics": [topic("LogUpdateState(uint256,uint256)")],
        },
    )
    (last,) = logs
    assert eth_abi.decode(["uint256", "uint256"], bytes.fromhex(last["data"][2:])) == (1, 1)
    tx_input = bytes.fromhex(rpc(url, "eth_getTransactionByHash", last["transactionHash"])["input"][2:])
    assert tx_input[:4] == bytes.fromhex("538f9406")
    output, application = eth_abi.decode(["uint256[]", "uint256[]"], tx_input[4:])
    # parseProgramOutput's layout: config hash, asset configs, previous state, then the new state.
    previous_at = 2 + 2 * output[1]
    new_at = previous_at + 1 + output[previous_at]
    new_state = list(output[new_at + 1 : new_at + 1 + output[new_at]])
    props = form_props(escape_page(frozen, USER_POSITION, _address(USER)))
    assert [str(word) for word in new_state] == props["serializedState"]
    book = rpc(url, "dydx_localEscapeBook")
    assert (
        "0x" + reference_keccak(b"".join(w.to_bytes(32, "big") for w in new_state)).hex()
        == book["sharedStateHash"]
    )
    assert application == (1, 0, 0)
    assert uint(url, perpetual, "getSequenceNumber()") == 1 and uint(url, perpetual, "getLastBatchId()") == 1
    # The update accepted the onboarding deposits; the one made after it is still pending.
    assert (
        uint(
            url,
            perpetual,
            "getQuantizedDepositBalance(uint256,uint256,uint256)",
            USER_STARK,
            asset,
            USER_POSITION,
        )
        == LATE_DEPOSIT
    )
    assert (
        uint(
            url,
            perpetual,
            "getQuantizedDepositBalance(uint256,uint256,uint256)",
            OTHER_STARK,
            asset,
            OTHER_POSITION,
        )
        == 0
    )
    # getVaultRoot is the empty tree's root, as on dYdX: the position root lives only in the state.
    assert uint(url, perpetual, "getVaultRoot()") == EMPTY_ROOT != new_state[0]
    assert uint(url, perpetual, "getVaultTreeHeight()") == 64 == new_state[1]
    assert uint(url, perpetual, "getSystemAssetType()") == asset
    assert uint(url, perpetual, "DEPOSIT_CANCEL_DELAY()") == DEPOSIT_CANCEL_DELAY


def test_deposited_position_escapes_with_the_explorer_data_and_pays_its_owner(frozen: LocalChain) -> None:
    url, deployment = frozen.url, frozen.deployment
    perpetual, asset = deployment.stark_perpetual.address, deployment.collateral_asset_id
    assert "does not belong" in refusal(escape_page(frozen, USER_POSITION, _address(OTHER)))
    assert "No account" in refusal(escape_page(frozen, USER_POSITION, None))
    assert "not found" in refusal(escape_page(frozen, 999, _address(USER)))
    props = form_props(escape_page(frozen, USER_POSITION, _address(USER).lower()))
    assert props["starkKey"] == f"0x{USER_STARK:064x}" and props["assetCount"] == 0
    assert props["positionOrVaultId"] == str(USER_POSITION)
    proof, state = (
        [int(w) for w in props["serializedMerkleProof"]],
        [int(w) for w in props["serializedState"]],
    )
    assert value_position(proof, 0, state).amount == USER_DEPOSIT

    verified = send(
        url, STRANGER, props["escapeVerifierAddress"], verify_calldata(proof, 0, state), gas=VERIFY_GAS
    )
    assert verified["status"] == "0x1"
    escaped = send(
        url,
        STRANGER,
        perpetual,
        encode("escape(uint256,uint256,uint256)", USER_STARK, USER_POSITION, USER_DEPOSIT),
    )
    assert escaped["status"] == "0x1"
    before = usdc_balance(frozen, _address(USER))
    assert (
        send(url, STRANGER, perpetual, encode("withdraw(uint256,uint256)", USER_STARK, asset))["status"]
        == "0x1"
    )
    assert usdc_balance(frozen, _address(USER)) == before + USER_DEPOSIT
    assert "already used" in refusal(escape_page(frozen, USER_POSITION, _address(USER)))
    # Another position of the same chain is still served.
    assert form_props(escape_page(frozen, OTHER_POSITION, _address(OTHER)))["positionOrVaultId"] == str(
        OTHER_POSITION
    )


def test_generated_positions_with_synthetic_assets_and_negative_funding_escape_to_the_exact_amount(
    frozen: LocalChain,
) -> None:
    url, deployment = frozen.url, frozen.deployment
    verifier, perpetual, asset = (
        deployment.escape_verifier.address,
        deployment.stark_perpetual.address,
        deployment.collateral_asset_id,
    )
    valuations = {}
    for position_id in synthetic_ids(frozen):
        props = form_props(escape_page(frozen, position_id, _address(USER)))
        n_assets = props["assetCount"]
        assert n_assets > 0
        proof, state = (
            [int(w) for w in props["serializedMerkleProof"]],
            [int(w) for w in props["serializedState"]],
        )
        assert len(proof) == 134 + 2 * n_assets
        valuation = value_position(proof, n_assets, state)
        receipt = send(url, STRANGER, verifier, verify_calldata(proof, n_assets, state), gas=VERIFY_GAS)
        assert receipt["status"] == "0x1"
        fields = eth_abi.decode(
            ["uint256", "int256", "bytes32", "uint256"], bytes.fromhex(receipt["logs"][0]["data"][2:])
        )
        assert fields[1] == valuation.amount > 0 and fields[3] == position_id
        valuations[position_id] = (int(props["starkKey"], 16), valuation)
    assert len(valuations) == 4
    funding_indices = [state[6 + 2 * i] - 2**63 for i in range(state[4])]
    assert all(index < 0 for index in funding_indices)
    assert any(v.funding < 0 for _, v in valuations.values())  # positions that owe funding
    # Correction 8: rounding the funding toward zero would have registered one unit more somewhere.
    assert any(v.amount_rounding_funding_toward_zero != v.amount for _, v in valuations.values())

    position_id, (stark_key, valuation) = next(iter(valuations.items()))
    escape = encode("escape(uint256,uint256,uint256)", stark_key, position_id, valuation.amount)
    assert send(url, STRANGER, perpetual, escape)["status"] == "0x1"
    withdraw_to = encode("withdrawTo(uint256,uint256,address)", stark_key, asset, _address(OTHER))
    assert reverts(url, perpetual, withdraw_to, _address(STRANGER)) == "MISMATCHING_STARK_ETH_KEYS"
    before = usdc_balance(frozen, _address(OTHER))
    assert send(url, USER, perpetual, withdraw_to)["status"] == "0x1"  # only the registered key chooses
    assert usdc_balance(frozen, _address(OTHER)) == before + valuation.amount
    assert send(url, USER, perpetual, withdraw_to)["status"] == "0x1"
    assert usdc_balance(frozen, _address(OTHER)) == before + valuation.amount


def test_generated_proofs_and_positions_fail_with_the_compiled_contracts_strings(frozen: LocalChain) -> None:
    url, verifier = frozen.url, frozen.deployment.escape_verifier.address
    ids = synthetic_ids(frozen)
    props = form_props(escape_page(frozen, ids[1], _address(USER)))
    proof, n_assets = [int(w) for w in props["serializedMerkleProof"]], props["assetCount"]
    state = [int(w) for w in props["serializedState"]]
    assert n_assets == 2

    # A proof of another position's leaf: the path of one position presented at another's index.
    other_index = ids[3] << (n_assets + 2)
    moved = [*proof[:-1], other_index << 8]
    assert reverts(url, verifier, verify_calldata(moved, n_assets, state)) == "Bad Merkle path."
    n_funding = state[4]
    funding = [state[5 + 2 * i : 7 + 2 * i] for i in range(n_funding)]
    prices_at = 5 + 2 * n_funding + 2
    prices = [state[prices_at + 2 * i : prices_at + 2 * i + 2] for i in range(state[prices_at - 1])]

    def table_state(funding_entries: list[list[int]], price_entries: list[list[int]]) -> list[int]:
        middle = state[5 + 2 * n_funding : 6 + 2 * n_funding]  # the funding timestamp
        return [
            *state[:4],
            len(funding_entries),
            *(word for entry in funding_entries for word in entry),
            *middle,
            len(price_entries),
            *(word for entry in price_entries for word in entry),
            state[-1],
        ]

    # A state whose tables lack the position's first asset.
    first_asset = right_nodes(proof, 1)[0] >> 128
    lacking = table_state(
        [e for e in funding if e[0] != first_asset], [e for e in prices if e[0] != first_asset]
    )
    assert reverts(url, verifier, verify_calldata(proof, n_assets, lacking)) == "assetId not found."
    # Correction 4: the lookup resumes where the previous asset was found, so tables out of order fail.
    reversed_state = table_state(funding[::-1], prices[::-1])
    assert reverts(url, verifier, verify_calldata(proof, n_assets, reversed_state)) == "assetId not found."
    # Another nAssets whose index bits fit: the position read has a different last item.
    other = form_props(escape_page(frozen, OTHER_POSITION, _address(OTHER)))
    other_proof = [int(w) for w in other["serializedMerkleProof"]]
    assert right_nodes(other_proof, 3)[2] & 0xFFFF != 1
    assert reverts(url, verifier, verify_calldata(other_proof, 1, state)) == "Bad number of assets."

    def lone(items: Sequence[int], position_id: int = 7) -> tuple[list[int], list[int]]:
        tree = SparsePositionTree({position_id: hash_chain(items)[-1]})
        words = merkle_proof_from_items(items, position_id, tree)
        return list(words), [tree.root, 64, 0, 64, 0, 1, 0, 1]

    bad_balance, empty_state = lone([USER_STARK, (2**64 << 16) | 0])
    assert reverts(url, verifier, verify_calldata(bad_balance, 0, empty_state)) == "Bad balance."
    negative, negative_state = lone([USER_STARK, ((2**63 - 5) << 16) | 0])
    assert (
        reverts(url, verifier, verify_calldata(negative, 0, negative_state))
        == "Withdrawal amount must be positive."
    )

    # Correction 8: value 1 + 5/2^32, funding −6/2^32. Rounded toward −∞ the funding costs a whole unit
    # and nothing is left; rounded toward zero it would cost nothing and 1 would be registered.
    btc = asset_id_of("BTC-10")
    tiny = Position(9, USER_STARK, 0, (AssetBalance(btc, 1, -10),))
    tiny_state = build_escape_state([tiny], {btc: -4}, {btc: 2**32 + 5}, funding_timestamp=1)
    tiny_proof, tiny_words = tiny_state.proofs[9], tiny_state.shared_state
    assert value_position(tiny_proof, 1, tiny_words).amount == 0
    assert value_position(tiny_proof, 1, tiny_words).amount_rounding_funding_toward_zero == 1
    assert (
        reverts(url, verifier, verify_calldata(tiny_proof, 1, tiny_words))
        == "Withdrawal amount must be positive."
    )

    # "Proof too long." is reached only after the position, balance, root and height all pass: 135 assets.
    names = [f"M{index:03d}" for index in range(135)]
    many = Position(3, USER_STARK, 10**6, tuple(AssetBalance(asset_id_of(n), 1, 0) for n in names))
    many_state = build_escape_state(
        [many], {asset_id_of(n): 0 for n in names}, {asset_id_of(n): 1 for n in names}, funding_timestamp=1
    )
    assert len(many_state.proofs[3]) == 404
    assert (
        reverts(url, verifier, verify_calldata(many_state.proofs[3], 135, many_state.shared_state))
        == "Proof too long."
    )


def test_unprocessed_deposit_is_reclaimed_by_its_owner_seven_days_after_cancel(frozen: LocalChain) -> None:
    url, deployment = frozen.url, frozen.deployment
    perpetual, asset = deployment.stark_perpetual.address, deployment.collateral_asset_id
    args = (USER_STARK, asset, USER_POSITION)
    assert uint(url, perpetual, "getQuantizedDepositBalance(uint256,uint256,uint256)", *args) == LATE_DEPOSIT
    cancel, reclaim = (
        encode("depositCancel(uint256,uint256,uint256)", *args),
        encode("depositReclaim(uint256,uint256,uint256)", *args),
    )
    assert reverts(url, perpetual, reclaim, _address(USER)) == "DEPOSIT_NOT_CANCELED"
    assert reverts(url, perpetual, cancel, _address(OTHER)) == "MISMATCHING_STARK_ETH_KEYS"
    cancelled = send(url, USER, perpetual, cancel)  # allowed while frozen
    assert cancelled["logs"][0]["topics"] == [topic("LogDepositCancel(uint256,uint256,uint256)")]
    assert eth_abi.decode(["uint256"] * 3, bytes.fromhex(cancelled["logs"][0]["data"][2:])) == (
        USER_STARK,
        USER_POSITION,
        asset,
    )
    assert reverts(url, perpetual, reclaim, _address(USER)) == "DEPOSIT_LOCKED"
    rpc(url, "evm_increaseTime", DEPOSIT_CANCEL_DELAY - 100)
    rpc(url, "evm_mine")
    assert reverts(url, perpetual, reclaim, _address(USER)) == "DEPOSIT_LOCKED"
    rpc(url, "evm_increaseTime", 200)
    rpc(url, "evm_mine")
    assert reverts(url, perpetual, reclaim, _address(OTHER)) == "MISMATCHING_STARK_ETH_KEYS"
    before = usdc_balance(frozen, _address(USER))
    reclaimed = send(url, USER, perpetual, reclaim)
    assert usdc_balance(frozen, _address(USER)) == before + LATE_DEPOSIT  # paid to msg.sender, the owner
    assert topic("LogDepositCancelReclaimed(uint256,uint256,uint256,uint256,uint256)") in [
        e["topics"][0] for e in reclaimed["logs"]
    ]
    assert uint(url, perpetual, "getQuantizedDepositBalance(uint256,uint256,uint256)", *args) == 0
    assert reverts(url, perpetual, reclaim, _address(USER)) == "DEPOSIT_NOT_CANCELED"


def test_an_unregistered_stark_key_cannot_withdraw(frozen: LocalChain) -> None:
    url, deployment = frozen.url, frozen.deployment
    perpetual, asset = deployment.stark_perpetual.address, deployment.collateral_asset_id
    nobody = _stark_key("nobody")
    assert reverts(url, perpetual, encode("getEthKey(uint256)", nobody)) == "USER_UNREGISTERED"
    assert reverts(url, perpetual, encode("withdraw(uint256,uint256)", nobody, asset)) == "USER_UNREGISTERED"
    withdraw_to = encode("withdrawTo(uint256,uint256,address)", nobody, asset, _address(STRANGER))
    assert reverts(url, perpetual, withdraw_to, _address(STRANGER)) == "USER_UNREGISTERED"


# --- the command line ------------------------------------------------------------------------------------


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the chain did not publish its deployment"
        time.sleep(0.05)
    deployment: dict[str, Any] = json.loads(path.read_text())
    return deployment


def test_serve_chain_starts_frozen_on_the_mainnet_fixture_and_freeze_chain_freezes_a_running_chain(
    tmp_path: Path,
) -> None:
    out = tmp_path / "deployment.json"
    proc = subprocess.Popen(
        [
            str(BIN / "dydx-relay"),
            "serve-chain",
            "--port",
            "0",
            "--operator",
            _address(OPERATOR),
            "--escape-fixture",
            "mainnet-pos1",
            "--deployment-out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deployment = _wait_for(out, proc)
        assert deployment["explorer"] == deployment["rpcUrl"] + "/explorer"
        page = httpx.get(deployment["explorer"] + "/escape/1", cookies={"account": MAINNET_OWNER})
        assert form_props(page)["serializedState"] == [str(word) for word in MAINNET_STATE]
        again = subprocess.run(
            [str(BIN / "dydx-relay"), "freeze-chain", "--rpc", deployment["rpcUrl"]],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (
            again.returncode != 0 and again.stderr.startswith("error: ") and "frozen already" in again.stderr
        )
        assert "Traceback" not in again.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "explorer" in stdout and "Traceback" not in stderr

    with start_local_chain(operator=_address(OPERATOR), chain_id=CHAIN_ID, setup=escape_setup()) as chain:
        done = subprocess.run(
            [
                str(BIN / "dydx-relay"),
                "freeze-chain",
                "--rpc",
                chain.url,
                "--synthetic-positions",
                "2",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["frozen"] is True and len(result["positions"]) == 2
        assert all(p["nAssets"] > 0 and p["synthetic"] for p in result["positions"])
        assert uint(chain.url, chain.deployment.stark_perpetual.address, "isFrozen()") == 1
