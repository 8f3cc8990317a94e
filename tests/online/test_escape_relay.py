"""The escape hatch end to end on the frozen local chain: `dydx-relay escape prepare` from the explorer
stand-in, `dydx-offline sign escape` of the cold key, `dydx-relay escape broadcast` in order, the USDC
arriving; a pending deposit cancelled and, seven days of chain time later, reclaimed; every refusal named.

The user is played by the kit's test key: its web-app STARK key is registered and funded on chain by
ordinary transactions (test scaffolding, as a user of dYdX's web app did), then the exchange freezes the
way mainnet did. Everything else is the tools as an operator runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import coincurve
import pytest

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.online.rehearsal.evm import LocalChain, start_local_chain
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID
from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import KIT, assert_clean_failure, kit_vectors, run_tool, write_secret
from tests.online.test_escape_rehearsal import (
    OPERATOR,
    _address,
    encode,
    escape_setup,
    rpc,
    send,
    usdc_balance,
)

V = kit_vectors()[4]
USER = coincurve.PrivateKey(bytes.fromhex(V["eth_private_key"][2:]))
ADDRESS = _address(USER)
STARK = derive_account(ColdKey(Secret(USER.secret)), LOCAL_REHEARSAL_CHAIN_ID).stark.public_key
POSITION = 4242
DEPOSIT, LATE = 1_250_500_000, 3_000_000  # base units: 1250.50 and 3 USDC
VECTOR = json.loads((KIT / "vectors" / "escape-mainnet-pos1.json").read_text())


@dataclass
class Desk:
    chain: LocalChain
    root: Path
    state: Path
    keystore: Path
    password: Path

    @property
    def explorer(self) -> str:
        return f"{self.chain.url.rstrip('/')}/explorer"

    def relay(self, *args: object):
        return run_tool("dydx-relay", *map(str, args), "--state", self.state, timeout=300)

    def prepare(self, out: str, *extra: object):
        return self.relay(
            "escape", "prepare", "--network", "local", "--rpc", self.chain.url, "--address", ADDRESS,
            "--out", self.root / out, *extra,
        )  # fmt: skip

    def sign(self, request: str, out: str, *extra: object):
        return run_tool(
            "dydx-offline", "sign", "escape", self.root / request, "--keystore", self.keystore,
            "--password-file", self.password, "--network", "local", "--out", self.root / out, "--yes",
            "--evidence-log", self.root / "evidence.jsonl", *extra,
        )  # fmt: skip


def _user_transaction(chain: LocalChain, signature: str, *args: object) -> None:
    target = (
        chain.deployment.usdc.address
        if signature.startswith("approve")
        else chain.deployment.stark_perpetual.address
    )
    assert send(chain.url, USER, target, encode(signature, *args))["status"] == "0x1"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    from eth_account import Account

    root = tmp_path_factory.mktemp("escape-relay")
    keystore = root / "key.json"
    write_secret(
        keystore, json.dumps(Account.encrypt(V["eth_private_key"], "pw", kdf="pbkdf2", iterations=1000))
    )
    password = write_secret(root / "pw", "pw")
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=LOCAL_REHEARSAL_CHAIN_ID,
        fund=[f"{ADDRESS}:10:5000"],
        setup=escape_setup(),
    ) as chain:
        digest = keccak256(b"UserRegistration:" + parse_address(ADDRESS) + STARK.to_bytes(32, "big"))
        compact = OPERATOR.sign_recoverable(digest, hasher=None)
        _user_transaction(
            chain,
            "registerUser(address,uint256,bytes)",
            ADDRESS,
            STARK,
            compact[:64] + bytes([compact[64] + 27]),
        )
        _user_transaction(
            chain, "approve(address,uint256)", chain.deployment.stark_perpetual.address, 2**256 - 1
        )
        asset = chain.deployment.collateral_asset_id
        _user_transaction(chain, "deposit(uint256,uint256,uint256,uint256)", STARK, asset, POSITION, DEPOSIT)
        yield Desk(chain, root, root / "relay-state", keystore, password)


def test_an_exchange_that_is_not_frozen_gets_nothing_prepared(desk: Desk) -> None:
    vector = desk.root / "vector.json"
    vector.write_text(json.dumps(VECTOR))
    result = desk.prepare("early.json", "--escape-file", vector)
    assert_clean_failure(result, "is not frozen")
    assert not (desk.root / "early.json").exists()


def test_escape_from_the_explorer_is_prepared_signed_broadcast_and_pays_the_registered_address(
    desk: Desk,
) -> None:
    chain = desk.chain
    # The last state update takes the deposit; a later deposit is never processed; then the freeze.
    rpc(chain.url, "dydx_localEscapeUpdateState", {})
    _user_transaction(
        chain,
        "deposit(uint256,uint256,uint256,uint256)",
        STARK,
        chain.deployment.collateral_asset_id,
        POSITION,
        LATE,
    )
    rpc(chain.url, "dydx_localEscapeFreeze", {"updateState": False})

    # The STARK key from derive's public file; the position from the address's own LogDeposit events.
    derived = run_tool(
        "dydx-offline", "derive", "--keystore", desk.keystore, "--password-file", desk.password,
        "--network", "local", "--out", desk.root / "derived", "--vault-password-file",
        write_secret(desk.root / "vault-pw", "a vault passphrase long enough"),
    )  # fmt: skip
    assert derived.code == 0, derived
    (public,) = (desk.root / "derived").glob("public-*.json")
    prepared = desk.prepare(
        "escape-request.json", "--explorer", desk.explorer, "--public-key", public, "--json"
    )
    assert f"position {POSITION}: found in" in prepared.err
    assert prepared.code == 0, prepared
    summary = json.loads(prepared.out)
    assert [s["action"] for s in summary["steps"]] == [
        "verify-escape",
        "escape",
        "withdraw",
        "deposit-cancel",
    ]
    assert summary["amount"] == str(DEPOSIT) and summary["recipient"] == ADDRESS
    assert summary["stark_key"] == f"0x{STARK:064x}"

    signed = desk.sign("escape-request.json", "signed-escape.json")
    assert signed.code == 0, signed
    assert "1250.5 USDC" in signed.out and "web-app" in signed.out

    before = usdc_balance(chain, ADDRESS)
    sent = desk.relay("escape", "broadcast", desk.root / "signed-escape.json", "--rpc", chain.url)
    assert sent.code == 0, sent
    assert f"USDC withdrawn: 1250.5 USDC to {ADDRESS}" in sent.out
    assert usdc_balance(chain, ADDRESS) == before + DEPOSIT  # exactly the proof's amount, to the owner

    again = desk.relay("escape", "broadcast", desk.root / "signed-escape.json", "--rpc", chain.url, "--json")
    assert again.code == 0, again
    assert [t["sent"] for t in json.loads(again.out)["transactions"]] == [False] * 4
    assert usdc_balance(chain, ADDRESS) == before + DEPOSIT


def test_after_the_cancel_delay_the_late_deposit_is_reclaimed(desk: Desk) -> None:
    chain = desk.chain
    gone = desk.prepare("gone.json", "--explorer", desk.explorer, "--position", POSITION)
    assert_clean_failure(gone, "already used", "--escape-file")  # the explorer hides a used escape
    vector_like = desk.root / "escape-page.json"
    request = decode_payload((desk.root / "escape-request.json").read_bytes()).body["escape"]
    vector_like.write_text(json.dumps(request))
    waiting = desk.prepare("too-early.json", "--escape-file", vector_like)
    assert_clean_failure(waiting, "DEPOSIT_CANCEL_DELAY")
    rpc(chain.url, "evm_increaseTime", 604_800 + 1)
    rpc(chain.url, "evm_mine")
    prepared = desk.prepare("reclaim.json", "--escape-file", vector_like, "--json")
    assert prepared.code == 0, prepared
    assert [s["action"] for s in json.loads(prepared.out)["steps"]] == ["deposit-reclaim"]
    assert desk.sign("reclaim.json", "signed-reclaim.json").code == 0
    before = usdc_balance(chain, ADDRESS)
    sent = desk.relay("escape", "broadcast", desk.root / "signed-reclaim.json", "--rpc", chain.url)
    assert sent.code == 0, sent
    assert usdc_balance(chain, ADDRESS) == before + LATE


def test_a_state_other_than_the_last_update_is_refused_by_the_relay(desk: Desk) -> None:
    request = decode_payload((desk.root / "escape-request.json").read_bytes()).body["escape"]
    changed = dict(
        request, shared_state=[*request["shared_state"][:-1], hex(int(request["shared_state"][-1], 16) + 1)]
    )
    file = desk.root / "changed-state.json"
    file.write_text(json.dumps(changed))
    result = desk.prepare("changed.json", "--escape-file", file)
    assert_clean_failure(result, "not the new state of the last updateState")


def test_truncated_escape_data_and_another_stark_key_are_refused(desk: Desk) -> None:
    page = desk.root / "cut.html"
    page.write_text('<form id="verify-escape-request-form" data-props="{&quot;starkKey')
    assert_clean_failure(desk.prepare("cut.json", "--escape-file", page), "no escape form")
    saved = desk.root / "escape-page.json"
    other = desk.prepare("other.json", "--escape-file", saved, "--stark-key", "0x1234")
    assert_clean_failure(other, "not this account's")


@pytest.fixture(scope="module")
def mainnet_frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalChain, Path]]:
    """The real mainnet position-1 state, frozen (what `serve-chain --escape-fixture mainnet-pos1` runs)."""
    with start_local_chain(
        operator=_address(OPERATOR),
        chain_id=LOCAL_REHEARSAL_CHAIN_ID,
        fund=[f"{VECTOR['ethereum_address']}:10:0"],
        setup=escape_setup("mainnet-pos1"),
    ) as chain:
        yield chain, tmp_path_factory.mktemp("mainnet-escape")


def _prepare_mainnet(chain: LocalChain, root: Path, vector: dict, out: str):
    file = root / f"{out}.source.json"
    file.write_text(json.dumps(vector))
    return run_tool(
        "dydx-relay", "escape", "prepare", "--network", "local", "--rpc", chain.url,
        "--address", VECTOR["ethereum_address"], "--escape-file", file, "--out", root / out,
        "--state", root / "state", "--json", timeout=300,
    )  # fmt: skip


def test_the_mainnet_vector_is_prepared_with_its_exact_verify_escape_calldata(mainnet_frozen) -> None:
    chain, root = mainnet_frozen
    result = _prepare_mainnet(chain, root, VECTOR, "mainnet-request.json")
    assert result.code == 0, result
    summary = json.loads(result.out)
    assert summary["amount"] == "21899778005454" and summary["fact"] == VECTOR["escape_fact"]
    assert [s["action"] for s in summary["steps"]] == ["verify-escape", "escape", "withdraw"]
    steps = decode_payload((root / "mainnet-request.json").read_bytes()).body["steps"]
    calldata = bytes.fromhex(steps[0]["transaction"]["data"][2:])
    assert "0x" + keccak256(calldata).hex() == VECTOR["verify_escape_calldata_keccak"]
    assert "0x" + steps[1]["transaction"]["data"][2:] == VECTOR["escape_calldata"]
    assert 2_000_000 < steps[0]["gas_estimate"] < 3_000_000  # the node's estimate, as on mainnet (~2.5 M)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda v: dict(
                v,
                merkle_proof=[
                    *v["merkle_proof"][:40],
                    hex(int(v["merkle_proof"][40], 16) ^ 1 << 99),
                    *v["merkle_proof"][41:],
                ],
            ),
            "Bad Merkle path.",
        ),
        (lambda v: dict(v, n_assets=1), "merkleProof is inconsistent with nAssets."),
        (
            lambda v: dict(v, shared_state=[v["shared_state"][0], hex(63), *v["shared_state"][2:]]),
            "inconsistent with the height",
        ),
        (
            lambda v: dict(
                v, merkle_proof=[*v["merkle_proof"][:-1], hex(int(v["merkle_proof"][-1], 16) | 1 << 8)]
            ),
            "merkleProof is inconsistent with nAssets.",
        ),
    ],
)
def test_a_mutated_mainnet_vector_is_refused_with_the_contracts_reason_and_nothing_is_prepared(
    mainnet_frozen, mutate, reason: str
) -> None:
    chain, root = mainnet_frozen
    out = f"refused-{abs(hash(reason))}.json"
    result = _prepare_mainnet(chain, root, mutate(VECTOR), out)
    assert_clean_failure(result, reason)
    assert not (root / out).exists()
