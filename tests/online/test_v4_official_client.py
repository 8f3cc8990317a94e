"""dYdX's official Python client (dydx-v4-client 1.1.5, in its own venv) as the trading bot against a real
serve-v4, after the cold side (shared/dydx_v4 + offline/keys/v4_account) has set up the owner account and
the relay (online/v4) has delivered the add-authenticator transaction and read the id back.

What must hold (issue 17): the hot key's short-term orders signed by the client's Builder under that id
are accepted; a withdrawal or transfer it signs with the hot key is refused with the chain's error; a
transaction it signs with the owner key is accepted, and is byte-identical to the one we build and sign.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import coincurve
import httpx
import pytest

from dydx_airgap.offline.keys.v4_account import (
    account_from_onboarding_signature,
    sign_direct,
    sign_onboarding,
)
from dydx_airgap.online.rehearsal.v4_chain import start_v4_node
from dydx_airgap.online.v4.fees import quote_fee
from dydx_airgap.online.v4.trading_key import read_back
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import TESTNET
from dydx_airgap.shared.dydx_v4.tx import AuthInfo, Fee, SignerInfo, TxBody, UnsignedTx, tx_hash
from dydx_airgap.shared.secret import Secret
from tests.conftest import REPO
from tests.online.test_v4_chain import genesis_of
from tests.online.test_v4_node import client, deliver_fast

DYDX4_VENV = REPO / ".venv-dydx4"
ETH_KEY = hashlib.sha256(b"official-client owner eth key").digest()
HOT_KEY = hashlib.sha256(b"official-client hot key").digest()
USDC = TESTNET.usdc_denom
ACCOUNT_NUMBER = 9


def dydx4_python() -> Path:
    """The dydx-v4-client 1.1.5 virtualenv, created on first use (it pins httpx<0.28 and coincurve<21)."""
    python = DYDX4_VENV / "bin" / "python"
    probe = [python, "-c", "import dydx_v4_client.node.builder"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    base = sys.executable if sys.version_info[:2] == (3, 11) else None
    if base is None:
        pytest.skip("dydx-v4-client 1.1.5 is pinned for Python 3.11; none found")
    for step in (
        [base, "-m", "venv", "--clear", str(DYDX4_VENV)],
        [python, "-m", "pip", "install", "-q", "dydx-v4-client==1.1.5"],
    ):
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot install dydx-v4-client 1.1.5 with pip: {tail}")
    return python


def owner_tx(
    owner: str, public_key: bytes, private: Secret[bytes], message: m.Message, sequence: int, fee: Fee
) -> bytes:
    unsigned = UnsignedTx(
        TxBody((message,)),
        AuthInfo((SignerInfo(public_key, sequence),), fee),
        TESTNET.chain_id,
        ACCOUNT_NUMBER,
    )
    return unsigned.tx_raw(sign_direct(private, unsigned.sign_doc().encode()))


def test_the_official_client_trades_with_the_hot_key_and_cannot_withdraw_with_it() -> None:
    python = dydx4_python()
    owner = account_from_onboarding_signature(sign_onboarding(Secret(ETH_KEY), TESTNET.eip712_chain_id))
    hot_pub = bytes(coincurve.PrivateKey(HOT_KEY).public_key.format(compressed=True))
    genesis = {
        "height": 5000,
        "next_authenticator_id": 12,
        "accounts": [
            {
                "address": owner.address,
                "account_number": ACCOUNT_NUMBER,
                "balances": [{"denom": USDC, "amount": "100000000"}],
                "subaccounts": [{"number": 0, "usdc_quantums": "50000000"}],
            }
        ],
    }
    with (
        start_v4_node(TESTNET, genesis=genesis_of(genesis), block_seconds=0.1) as handle,
        client(handle) as n,
    ):
        # The cold owner authorises the hot key with the recipe; the relay prices, delivers and reads back.
        type_name, data = a.encode_authenticator(a.trading_key_recipe(hot_pub))
        add = m.MsgAddAuthenticator(owner.address, type_name, data)
        quote = quote_fee(n, TxBody((add,)), owner.public_key, 0, USDC)
        tx = owner_tx(
            owner.address, owner.public_key, owner.private_key, add, 0, Fee(quote.fee_coins, quote.gas_limit)
        )
        key = read_back(n, tx, deliver_fast(n, tx).result, hot_pub)
        assert key.verdict.safe
        height = n.latest_block().height
        args = [
            handle.url,
            TESTNET.chain_id,
            owner.address,
            str(ACCOUNT_NUMBER),
            "1",
            owner.mnemonic.reveal(),
            HOT_KEY.hex(),
            str(key.authenticator_id),
            str(height),
            USDC,
        ]
        run = subprocess.run(
            [python, str(REPO / "tests" / "compat" / "dydx4_trading_bot.py"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
        )
        assert run.returncode == 0, run.stderr[-3000:]
        out = json.loads(run.stdout)
        deposit_hex = out["owner_deposit"]["tx_hex"]
        deposit_result = None
        for _ in range(200):
            deposit_result = n.tx(tx_hash(bytes.fromhex(deposit_hex)))
            if deposit_result is not None:
                break
            time.sleep(0.05)
        orders = httpx.get(handle.url + "/local/orders").json()["orders"]
        sequence = n.account(owner.address)
        sub = n.subaccount(owner.address, 0)

    assert (out["hot_public_key"], out["owner_address_by_client"]) == (hot_pub.hex(), owner.address)
    assert key.authenticator_id == 12
    # The hot key's short-term orders, under the id the relay read back: accepted, no sequence used.
    assert (out["hot_place_order"]["code"], out["hot_cancel_order"]["code"]) == (0, 0), out
    assert [(o["kind"], o["authenticator_id"], o["client_id"]) for o in orders] == [
        ("place", 12, 77),
        ("cancel", 12, 77),
    ]
    # Withdrawal and transfer with the hot key: the chain's authenticator refusal (code 4, the AllOf id).
    for name in ("hot_withdraw", "hot_transfer"):
        assert out[name]["code"] == 4, out[name]
        assert out[name]["raw_log"].startswith(
            "authentication failed for message 0, authenticator id 12, type AllOf"
        )
    # The owner key's deposit: accepted and included, and byte-identical to ours for the same request.
    assert out["owner_deposit"]["code"] == 0
    assert deposit_result is not None and deposit_result.code == 0
    ours = owner_tx(
        owner.address,
        owner.public_key,
        owner.private_key,
        m.MsgDepositToSubaccount(owner.address, m.SubaccountId(owner.address, 0), 0, 2_000_000),
        1,
        Fee((Coin(USDC, 5000),), 200_000),
    )
    assert ours.hex() == out["owner_deposit"]["tx_hex"]
    assert sequence is not None and sequence.sequence == 2
    assert sub.usdc_quantums == 50_000_000 + 2_000_000
