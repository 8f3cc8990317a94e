"""`dydx-offline sign tx`: a review built from the calldata, refusals that name the field, and signed bytes
that a real EVM accepts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import coincurve
import httpx
import pytest

from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.shared.dydx_v3.calldata import (
    UNLIMITED_ALLOWANCE,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    usdc_to_base_units,
)
from dydx_airgap.shared.dydx_v3.networks import LOCAL_REHEARSAL_CHAIN_ID, NETWORKS
from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from tests.conftest import TEST_MNEMONIC, assert_clean_failure, kit_vectors, run_tool, write_secret

V = kit_vectors()[4]  # ganache key
KEY = ColdKey(Secret(bytes.fromhex(V["eth_private_key"][2:])))
OPERATOR = coincurve.PrivateKey(keccak256(b"test operator"))
LOCAL = NETWORKS[LOCAL_REHEARSAL_CHAIN_ID]
STARK = derive_account(KEY, LOCAL.chain_id).stark.public_key


def registration_signature(address: str, stark_key: int) -> bytes:
    digest = keccak256(b"UserRegistration:" + parse_address(address) + stark_key.to_bytes(32, "big"))
    compact = OPERATOR.sign_recoverable(digest, hasher=None)
    return compact[:64] + bytes([compact[64] + 27])


def request(
    action: str,
    *,
    to: str,
    data: bytes,
    nonce: int = 0,
    chain_id: int = LOCAL.chain_id,
    max_fee: int = 2 * 10**9,
    amount: str | None = None,
    network_id: int = LOCAL.chain_id,
    stark: int = STARK,
    address: str = KEY.address,
    expires_in: timedelta = timedelta(hours=1),
    value: int = 0,
) -> bytes:
    body: dict[str, Any] = {
        "action": action,
        "transaction": {
            "chain_id": chain_id,
            "nonce": nonce,
            "max_priority_fee_per_gas": 10**9,
            "max_fee_per_gas": max_fee,
            "gas_limit": 200_000,
            "to": to,
            "value": value,
            "data": "0x" + data.hex(),
        },
        "context": {
            "stark_public_key": f"0x{stark:064x}",
            "position_id": "7" if action == "deposit" else None,
            "amount": amount,
            "base_fee_per_gas": 10**9,
            "gas_estimate": 150_000,
            "rpc": "http://127.0.0.1",
        },
    }
    return new_payload("tx-request", network_id, address, body, expires_in=expires_in).to_bytes()


def register_data(stark: int = STARK, eth_key: str = KEY.address) -> bytes:
    return RegisterUserCall(eth_key, stark, registration_signature(eth_key, stark)).encode()


def deposit_data(
    amount: str = "1250.50", asset: int = LOCAL.collateral_asset_id, stark: int = STARK
) -> bytes:
    return DepositCall(stark, asset, 7, usdc_to_base_units(amount)).encode()


@pytest.fixture
def keyfiles(secrets_dir: Path) -> tuple[Path, Path]:
    from eth_account import Account

    ks = secrets_dir / "k.json"
    write_secret(ks, json.dumps(Account.encrypt(V["eth_private_key"], "pw", kdf="pbkdf2", iterations=1000)))
    return ks, write_secret(secrets_dir / "pw", "pw")


def sign(tmp_path: Path, keyfiles, req: bytes, *extra: str, network: int = LOCAL.chain_id):
    ks, pw = keyfiles
    rf = tmp_path / "req.json"
    rf.write_bytes(req)
    out = tmp_path / "signed.json"
    out.unlink(missing_ok=True)
    r = run_tool(
        "dydx-offline",
        "sign",
        "tx",
        rf,
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        str(network),
        "--out",
        out,
        "--yes",
        "--evidence-log",
        tmp_path / "log",
        *extra,
    )
    return r, out


def test_signed_register_is_exactly_the_request(tmp_path: Path, keyfiles) -> None:
    req = request("register", to=LOCAL.stark_perpetual, data=register_data())
    r, out = sign(tmp_path, keyfiles, req)
    assert r.code == 0, r
    signed_payload = decode_payload(out.read_bytes())
    assert signed_payload.answers == decode_payload(req).id
    tx = decode_signed_transaction(bytes.fromhex(signed_payload.body["raw"][2:]))
    assert tx.sender_address == KEY.address
    assert tx.transaction.data == register_data()
    assert tx.transaction.chain_id == LOCAL.chain_id and tx.transaction.value == 0
    assert "registerUser" in r.out and "matches the locally derived key" in r.out
    assert OPERATOR_ADDRESS in r.out.lower()  # the registration signer is shown
    assert "maximum total cost" in r.out and "0.0004 ETH" in r.out  # 200000 gas x 2 gwei, exact


OPERATOR_ADDRESS = "0x" + keccak256(OPERATOR.public_key.format(compressed=False)[1:])[12:].hex()


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: request("register", to=LOCAL.usdc, data=register_data()), "contract"),
        (
            lambda: request("register", to=LOCAL.stark_perpetual, data=register_data(stark=STARK + 1)),
            "STARK key",
        ),
        (
            lambda: request(
                "register", to=LOCAL.stark_perpetual, data=register_data(eth_key="0x" + "11" * 20)
            ),
            "ethKey",
        ),
        (lambda: request("register", to=LOCAL.stark_perpetual, data=register_data(), chain_id=1), "chain id"),
        (
            lambda: request("register", to=LOCAL.stark_perpetual, data=register_data(), network_id=1),
            "network",
        ),
        (lambda: request("register", to=LOCAL.stark_perpetual, data=register_data(), value=1), "value"),
        (
            lambda: request("register", to=LOCAL.stark_perpetual, data=register_data(), max_fee=10**15),
            "max fee",
        ),
        (lambda: request("deposit", to=LOCAL.stark_perpetual, data=register_data()), "function"),
        (
            lambda: request(
                "approve", to=LOCAL.stark_perpetual, data=ApproveCall(LOCAL.stark_perpetual, 10**6).encode()
            ),
            "contract",
        ),
        (
            lambda: request("approve", to=LOCAL.usdc, data=ApproveCall("0x" + "22" * 20, 10**6).encode()),
            "spender",
        ),
        (
            lambda: request(
                "approve", to=LOCAL.usdc, data=ApproveCall(LOCAL.stark_perpetual, 10**6).encode(), amount="2"
            ),
            "amount",
        ),
        (
            lambda: request(
                "approve",
                to=LOCAL.usdc,
                data=ApproveCall(LOCAL.stark_perpetual, UNLIMITED_ALLOWANCE).encode(),
            ),
            "unlimited",
        ),
        (
            lambda: request(
                "deposit", to=LOCAL.stark_perpetual, data=deposit_data(asset=1), amount="1250.50"
            ),
            "asset id",
        ),
        (
            lambda: request(
                "deposit", to=LOCAL.stark_perpetual, data=deposit_data("1250.49"), amount="1250.50"
            ),
            "amount",
        ),
        (
            lambda: request(
                "deposit", to=LOCAL.stark_perpetual, data=deposit_data(stark=5), amount="1250.50"
            ),
            "STARK key",
        ),
        (
            lambda: request(
                "register",
                to=LOCAL.stark_perpetual,
                data=register_data(),
                expires_in=timedelta(milliseconds=1),
            ),
            "expired",
        ),
    ],
)
def test_tampered_requests_are_refused_naming_the_field(
    tmp_path: Path, keyfiles, build, fragment: str
) -> None:
    r, out = sign(tmp_path, keyfiles, build())
    assert_clean_failure(r, fragment)
    assert not out.exists()
    assert not (tmp_path / "log").exists()


def test_wrong_network_for_the_key_is_refused(tmp_path: Path, keyfiles) -> None:
    r, out = sign(
        tmp_path,
        keyfiles,
        request("register", to=LOCAL.stark_perpetual, data=register_data()),
        network=11155111,
    )
    assert_clean_failure(r, "network")
    assert not out.exists()


def test_exact_amounts_and_capped_approve(tmp_path: Path, keyfiles) -> None:
    data = ApproveCall(LOCAL.stark_perpetual, usdc_to_base_units("1.005")).encode()
    r, _ = sign(tmp_path, keyfiles, request("approve", to=LOCAL.usdc, data=data, amount="1.005"))
    assert r.code == 0, r
    assert "1.005 USDC (1005000 base units)" in r.out
    r, _out = sign(
        tmp_path,
        keyfiles,
        request("deposit", to=LOCAL.stark_perpetual, data=deposit_data("8.2"), amount="8.2"),
    )
    assert r.code == 0, r
    assert "8.2 USDC (8200000 base units)" in r.out
    unlimited = ApproveCall(LOCAL.stark_perpetual, UNLIMITED_ALLOWANCE).encode()
    r, _ = sign(
        tmp_path, keyfiles, request("approve", to=LOCAL.usdc, data=unlimited), "--allow-unlimited-approve"
    )
    assert r.code == 0, r
    assert "UNLIMITED" in r.out


def test_cold_signed_transactions_run_on_a_real_evm(tmp_path: Path, keyfiles) -> None:
    from dydx_airgap.online.rehearsal.evm import start_local_chain

    operator = "0x" + keccak256(OPERATOR.public_key.format(compressed=False)[1:])[12:].hex()
    with start_local_chain(
        operator=operator, chain_id=LOCAL.chain_id, fund=[f"{KEY.address}:1:5000"]
    ) as chain:
        assert chain.deployment.to_json()["starkPerpetual"] == LOCAL.stark_perpetual
        steps = [
            ("register", LOCAL.stark_perpetual, register_data(), None),
            (
                "approve",
                LOCAL.usdc,
                ApproveCall(LOCAL.stark_perpetual, usdc_to_base_units("1250.50")).encode(),
                "1250.50",
            ),
            ("deposit", LOCAL.stark_perpetual, deposit_data(), "1250.50"),
        ]
        for nonce, (action, to, data, amount) in enumerate(steps):
            r, out = sign(tmp_path, keyfiles, request(action, to=to, data=data, nonce=nonce, amount=amount))
            assert r.code == 0, r
            raw = decode_payload(out.read_bytes()).body["raw"]
            reply = httpx.post(
                chain.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]},
            ).json()
            assert "result" in reply, reply
            receipt = httpx.post(
                chain.url,
                json={
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "eth_getTransactionReceipt",
                    "params": [reply["result"]],
                },
            ).json()["result"]
            assert int(receipt["status"], 16) == 1, (action, receipt)


def test_a_request_for_another_account_of_the_mnemonic_names_the_account_to_pass(
    tmp_path: Path, secrets_dir: Path
) -> None:
    from dydx_airgap.offline.keys.sources import load_keys
    from dydx_airgap.offline.options import KeySourceOptions

    mnemonic = write_secret(secrets_dir / "mn", TEST_MNEMONIC)
    third = next(load_keys(KeySourceOptions(mnemonic_file=mnemonic), [3])).key
    rf = tmp_path / "req.json"
    rf.write_bytes(request("register", to=LOCAL.stark_perpetual, data=register_data(), address=third.address))
    base = ["sign", "tx", rf, "--mnemonic-file", mnemonic, "--network", str(LOCAL.chain_id), "--yes"]
    r = run_tool("dydx-offline", *base, "--out", tmp_path / "s.json", "--evidence-log", tmp_path / "log")
    assert_clean_failure(r, "is --account 3 of this mnemonic: sign with --account 3", third.address)
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "log").exists()
    # A request for an address the mnemonic does not hold says so instead of guessing.
    stranger = "0x000000000000000000000000000000000000dEaD"
    rf.write_bytes(request("register", to=LOCAL.stark_perpetual, data=register_data(), address=stranger))
    r = run_tool("dydx-offline", *base, "--out", tmp_path / "s.json", "--evidence-log", tmp_path / "log")
    assert_clean_failure(r, "none of accounts 0-99")


def test_near_unlimited_allowances_need_the_unlimited_flag(tmp_path: Path, keyfiles, figure) -> None:
    """Finding 6: not only 2^256-1 — any allowance above the amount the request states, or above the cap
    when it states none, is refused without --allow-unlimited-approve, by a message naming that flag."""
    cases = [
        (2**256 - 2, None),
        (2**255, None),
        (10**30, None),
        (usdc_to_base_units("1000001"), None),  # just above the default 1,000,000 USDC cap
        (usdc_to_base_units("500"), "100"),  # more than the deposit the request states
        (UNLIMITED_ALLOWANCE, "100"),
    ]
    refused = 0
    for amount, stated in cases:
        data = ApproveCall(LOCAL.stark_perpetual, amount).encode()
        r, out = sign(tmp_path, keyfiles, request("approve", to=LOCAL.usdc, data=data, amount=stated))
        refused += r.code != 0 and "--allow-unlimited-approve" in r.err and not out.exists()
    figure(
        f"approve: allowances above the stated amount or cap refused without the flag in {refused} of {len(cases)}"
    )
    assert refused == len(cases)
    r, out = sign(
        tmp_path,
        keyfiles,
        request("approve", to=LOCAL.usdc, data=ApproveCall(LOCAL.stark_perpetual, 2**256 - 2).encode()),
        "--allow-unlimited-approve",
    )
    assert r.code == 0 and "above the cap" in r.out, r
    r, out = sign(
        tmp_path,
        keyfiles,
        request("approve", to=LOCAL.usdc, data=ApproveCall(LOCAL.stark_perpetual, 10**6).encode()),
    )
    assert r.code == 0, r  # a modest allowance with no stated amount stays under the cap


def test_registration_signer_is_named_dydx_only_when_it_is_a_known_admin(
    tmp_path: Path, keyfiles, figure
) -> None:
    """Finding 10(b): any key can sign the registration text; the review must not call it dYdX's."""
    from dataclasses import replace

    from dydx_airgap.offline.signing.transactions import _registration_signer_label

    r, _ = sign(tmp_path, keyfiles, request("register", to=LOCAL.stark_perpetual, data=register_data()))
    assert r.code == 0, r
    operator = "0x" + keccak256(OPERATOR.public_key.format(compressed=False)[1:])[12:].hex()
    unknown_named_dydx = int("dYdX's user-admin key" in r.out)
    assert "NOT a user-admin address on record" in r.out
    known = replace(LOCAL, known_user_admins=frozenset({operator}))
    assert "a known user-admin key" in _registration_signer_label(operator, known)
    figure(
        f"review: unknown registration signers labelled as dYdX's user-admin key: {unknown_named_dydx} of 1"
    )
    assert unknown_named_dydx == 0
