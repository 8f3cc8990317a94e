"""`dydx-offline sign escape`: the cold side verifies the proof itself, finds its own STARK key under any
wallet variant, rebuilds every calldata from the verified proof and refuses anything else by name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.shared.dydx_v3.escape.calldata import (
    DepositCancelCall,
    EscapeCall,
    VerifyEscapeCall,
    WithdrawCall,
)
from dydx_airgap.shared.dydx_v3.escape.verifier import verify_escape
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, NETWORKS
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from tests.conftest import assert_clean_failure, kit_vectors, run_tool, write_secret
from tests.shared.escape_trees import Position, build, state_words

V = kit_vectors()[4]
KEY = ColdKey(Secret(bytes.fromhex(V["eth_private_key"][2:])))
LOCAL = NETWORKS[LOCAL_REHEARSAL_CHAIN_ID]
BTC = int.from_bytes(b"BTC-10".ljust(15, b"\0"), "big")
OTHER = "0x00000000000000000000000000000000000000aa"


def _tree(variant: StarkKeyVariant = StarkKeyVariant.WEB_APP) -> tuple[list[int], dict[int, list[int]], int]:
    stark = derive_account(KEY, LOCAL.chain_id, variant).stark.public_key
    positions = [
        Position(12, stark, 2_500_000_000, [(BTC, 2, -(2**32) * 40)]),
        Position(13, 0x777, 10**9, []),
    ]
    root, proofs = build(positions)
    state = state_words(root, [(BTC, -(2**32) * 41)], [(BTC, 30_000 * 2**32)])
    return state, proofs, stark


STATE, PROOFS, STARK = _tree()
AMOUNT = verify_escape(PROOFS[12], 1, STATE).amount


def _tx(nonce: int, to: str, data: bytes, gas: int = 300_000) -> dict[str, Any]:
    return {
        "chain_id": LOCAL.chain_id,
        "nonce": nonce,
        "max_priority_fee_per_gas": 10**9,
        "max_fee_per_gas": 3 * 10**9,
        "gas_limit": gas,
        "to": to,
        "value": 0,
        "data": "0x" + data.hex(),
    }


def escape_request(
    *,
    proof: list[int] | None = None,
    state: list[int] | None = None,
    stark: int = STARK,
    position: int = 12,
    n_assets: int = 1,
    amount: int | None = None,
    recipient: str = KEY.address,
    withdraw: str = "withdraw",
    deposit: bool = False,
    overrides: dict[str, bytes] | None = None,
    verifier: str | None = None,
) -> bytes:
    proof = PROOFS[position] if proof is None else proof
    state = STATE if state is None else state
    calls = {
        "verify-escape": (
            verifier or LOCAL.escape_verifier,
            VerifyEscapeCall(tuple(proof), n_assets, tuple(state)).encode(),
        ),
        "escape": (
            LOCAL.stark_perpetual,
            EscapeCall(stark, position, AMOUNT if amount is None else amount).encode(),
        ),
        withdraw: (
            LOCAL.stark_perpetual,
            WithdrawCall(
                stark, LOCAL.collateral_asset_id, None if withdraw == "withdraw" else recipient
            ).encode(),
        ),
    }
    if deposit:
        calls["deposit-cancel"] = (
            LOCAL.stark_perpetual,
            DepositCancelCall(stark, LOCAL.collateral_asset_id, position).encode(),
        )
    for action, data in (overrides or {}).items():
        calls[action] = (calls[action][0], data)
    body = {
        "escape": {
            "stark_key": f"0x{stark:064x}",
            "position_id": str(position),
            "n_assets": n_assets,
            "merkle_proof": [hex(w) for w in proof],
            "shared_state": [hex(w) for w in state],
        },
        "source": "file escape.json",
        "recipient": recipient,
        "facts": {
            "rpc": "http://127.0.0.1:8545",
            "block_number": 40,
            "frozen": True,
            "registered_eth_key": KEY.address,
            "state_update_tx": "0x" + "ab" * 32,
            "state_update_block": 30,
            "escape_used": False,
            "fact_registered": False,
            "pending_withdrawal": "0",
            "pending_deposit": "0",
            "base_fee_per_gas": 10**9,
            "eth_balance": str(10**18),
            "notes": [],
        },
        "steps": [
            {"action": action, "transaction": _tx(5 + i, to, data), "gas_estimate": None, "gas_note": "test"}
            for i, (action, (to, data)) in enumerate(calls.items())
        ],
    }
    return new_payload(
        "escape-request", LOCAL.chain_id, KEY.address, body, expires_in=timedelta(hours=1)
    ).to_bytes()


@pytest.fixture
def keyfiles(secrets_dir: Path) -> tuple[Path, Path]:
    from eth_account import Account

    ks = secrets_dir / "k.json"
    write_secret(ks, json.dumps(Account.encrypt(V["eth_private_key"], "pw", kdf="pbkdf2", iterations=1000)))
    return ks, write_secret(secrets_dir / "pw", "pw")


def sign(tmp_path: Path, keyfiles: tuple[Path, Path], req: bytes, *extra: str):
    ks, pw = keyfiles
    request_file = tmp_path / "escape-request.json"
    request_file.write_bytes(req)
    out = tmp_path / "signed-escape.json"
    out.unlink(missing_ok=True)
    result = run_tool(
        "dydx-offline",
        "sign",
        "escape",
        request_file,
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        str(LOCAL.chain_id),
        "--out",
        out,
        "--yes",
        "--evidence-log",
        tmp_path / "log",
        *extra,
    )
    return result, out


def test_a_valid_escape_is_signed_as_exactly_the_requested_transactions(tmp_path: Path, keyfiles) -> None:
    req = escape_request(deposit=True)
    result, out = sign(tmp_path, keyfiles, req)
    assert result.code == 0, result
    signed = decode_payload(out.read_bytes())
    assert signed.kind == "signed-escape" and signed.answers == decode_payload(req).id
    steps = decode_payload(req).body["steps"]
    assert [t["action"] for t in signed.body["transactions"]] == [s["action"] for s in steps]
    for item, step in zip(signed.body["transactions"], steps, strict=True):
        tx = decode_signed_transaction(bytes.fromhex(item["raw"][2:]))
        assert tx.sender_address == KEY.address
        assert "0x" + tx.transaction.data.hex() == step["transaction"]["data"]
        assert tx.transaction.nonce == step["transaction"]["nonce"]
    # The review is built from the proof: position, asset, amount, variant; never the calldata's hex.
    assert "position id" in result.out and "asset BTC-10" in result.out
    assert f"({AMOUNT} base units)" in result.out and "web-app" in result.out
    assert step["transaction"]["data"][:40] not in result.out
    log = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert log[-1]["kind"] == "signed-escape" and log[-1]["escape"]["amount"] == str(AMOUNT)
    assert log[-1]["escape"]["recipient"] == KEY.address and log[-1]["key_variant"] == "web-app"


def test_the_stark_key_of_another_wallet_variant_is_found_and_named(tmp_path: Path, keyfiles) -> None:
    state, proofs, stark = _tree(StarkKeyVariant.V_ROTATED)
    amount = verify_escape(proofs[12], 1, state).amount
    req = escape_request(proof=proofs[12], state=state, stark=stark, amount=amount)
    result, _ = sign(tmp_path, keyfiles, req)
    assert result.code == 0, result
    assert "v-rotated" in result.out


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: escape_request(amount=AMOUNT - 1), "escape calldata differs"),
        (lambda: escape_request(amount=AMOUNT + 1), "escape calldata differs"),
        (
            lambda: escape_request(proof=[*PROOFS[12][:40], PROOFS[12][40] ^ 1 << 77, *PROOFS[12][41:]]),
            "Bad Merkle path.",
        ),
        (lambda: escape_request(n_assets=2), "Bad number of assets."),
        (lambda: escape_request(position=13, stark=0x777, n_assets=0), "not derived from"),
        (lambda: escape_request(stark=STARK + 1), "not the stated"),
        (lambda: escape_request(recipient=OTHER, withdraw="withdraw-to"), "--allow-withdraw-to"),
        (lambda: escape_request(verifier=LOCAL.usdc), "verify-escape contract"),
        (
            lambda: escape_request(
                overrides={"verify-escape": VerifyEscapeCall(tuple(PROOFS[13]), 0, tuple(STATE)).encode()}
            ),
            "verify-escape calldata differs",
        ),
    ],
)
def test_anything_but_the_verified_escape_is_refused_and_nothing_is_written(
    tmp_path: Path, keyfiles, build, fragment: str
) -> None:
    result, out = sign(tmp_path, keyfiles, build())
    assert_clean_failure(result, fragment)
    assert not out.exists()


def test_withdraw_to_another_address_needs_the_flag_and_is_shown_in_red(tmp_path: Path, keyfiles) -> None:
    req = escape_request(recipient=OTHER, withdraw="withdraw-to")
    result, out = sign(tmp_path, keyfiles, req, "--allow-withdraw-to")
    assert result.code == 0, result
    assert "NOT the registered address" in result.out and "!!" in result.out + result.err
    tx = decode_signed_transaction(
        bytes.fromhex(decode_payload(out.read_bytes()).body["transactions"][-1]["raw"][2:])
    )
    assert tx.transaction.data == WithdrawCall(STARK, LOCAL.collateral_asset_id, OTHER).encode()


def test_the_evidence_bundle_carries_the_escape_and_the_auditor_rechecks_the_proof(
    tmp_path: Path, keyfiles
) -> None:
    result, _ = sign(tmp_path, keyfiles, escape_request())
    assert result.code == 0, result
    ks, pw = keyfiles
    bundle = tmp_path / "bundle"
    made = run_tool(
        "dydx-offline", "evidence", "bundle", "--keystore", ks, "--password-file", pw,
        "--network", str(LOCAL.chain_id), "--log", tmp_path / "log", "--from", tmp_path, "--out", bundle,
    )  # fmt: skip
    assert made.code == 0, made
    verdict = run_tool("dydx-audit", "verify", bundle, "--cold-only", "--address", KEY.address)
    assert verdict.code == 0, verdict.out
    assert "PASS escape-proof cold/signed-escape.json" in verdict.out
    assert f"amount {AMOUNT} base units" in verdict.out
    assert "PASS transaction cold/signed-escape.json: 3 escape transactions" in verdict.out
