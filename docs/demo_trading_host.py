"""The demo's trading host: the machine a market maker's bot runs on, with a *hot* key of its own.

It is neither the cold machine nor the relay: it holds a secp256k1 key (the key type dYdX's official clients
use) that the cold key authorises with the spec §B3 recipe, and signs orders with it for the owner's account
under the authenticator id the relay read back (spec §B8: TxExtension.selected_authenticators, the hot key
in SignerInfo, the owner's account number in the SignDoc).

    python docs/demo_trading_host.py keygen DIR          # DIR/hot-key.secret (0600), DIR/hot-key.json
    python docs/demo_trading_host.py trade DIR NODE CONFIG   # CONFIG = the relay's trading-key-<id>.json

``trade`` places and cancels one short-term order (accepted: code 0, no sequence used) and tries a
withdrawal with the hot key (refused by the chain's authenticator check), printing one line each.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import coincurve
import httpx

from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.chain_tx import (
    ChainAuthInfo,
    ChainFee,
    ChainTxBody,
    TxExtension,
    encode_chain_tx,
)
from dydx_airgap.shared.dydx_v4.clob import MsgCancelOrder, MsgPlaceOrder, Order, OrderId
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import network_by_chain_id
from dydx_airgap.shared.dydx_v4.tx import SignDoc, SignerInfo


def keygen(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    fd = os.open(directory / "hot-key.secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
    public = coincurve.PrivateKey(secret).public_key.format(compressed=True)
    (directory / "hot-key.json").write_text(json.dumps({"key_type": "secp256k1", "public_key": public.hex()}))
    print(f"trading host: made a hot key; its public key {public.hex()} goes to the relay (hot-key.json)")


def _get(node: str, path: str) -> Any:
    response = httpx.get(node + path, timeout=10)
    response.raise_for_status()
    return response.json()


def _send(node: str, tx: bytes) -> dict[str, Any]:
    body = {"tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_SYNC"}
    response = httpx.post(node + "/cosmos/tx/v1beta1/txs", json=body, timeout=10)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()["tx_response"]
    return answer


def trade(directory: Path, node: str, config_file: Path) -> None:
    secret = bytes.fromhex((directory / "hot-key.secret").read_text().strip())
    key = coincurve.PrivateKey(secret)
    public = key.public_key.format(compressed=True)
    config = json.loads(config_file.read_text())
    if config["hot_public_key"] != public.hex():
        raise SystemExit("trading host: the trading-key file authorises another key than this host's")
    owner, ident = config["owner_address"], int(config["authenticator_id"])
    chain_id, account_number = config["chain_id"], int(config["owner_account_number"])
    height = int(_get(node, "/cosmos/base/tendermint/v1beta1/blocks/latest")["block"]["header"]["height"])
    sequence = int(_get(node, f"/cosmos/auth/v1beta1/accounts/{owner}")["account"]["sequence"])

    def signed(message: Any, fee: tuple[Coin, ...], gas: int, seq: int) -> bytes:
        body = ChainTxBody((message,), "", 0, TxExtension((ident,)))
        auth = ChainAuthInfo(SignerInfo(public, seq), ChainFee(fee, gas))
        doc = SignDoc(body.encode(), auth.encode(), chain_id, account_number).encode()
        signature = key.sign_recoverable(doc, hasher=lambda b: hashlib.sha256(b).digest())[:64]  # low-s
        return encode_chain_tx(body, auth, signature)

    order_id = OrderId(m.SubaccountId(owner, 0), 42, 0, 0)
    order = MsgPlaceOrder(Order(order_id, 1, 1_000_000, 5_000_000, good_til_block=height + 20))
    # Short-term orders run on free gas and skip the sequence (spec §B7): no fee, any sequence.
    placed = _send(node, signed(order, (), 0, 0))
    print(f"trading host: short-term order under authenticator {ident}: code {placed['code']} (accepted)")
    cancel = MsgCancelOrder(order_id, good_til_block=height + 20)
    cancelled = _send(node, signed(cancel, (), 0, 0))
    print(f"trading host: cancel: code {cancelled['code']} (accepted)")
    usdc = network_by_chain_id(chain_id).usdc_denom
    withdrawal = m.MsgWithdrawFromSubaccount(m.SubaccountId(owner, 0), owner, 0, 1_000_000)
    refused = _send(node, signed(withdrawal, (Coin(usdc, 5000),), 200_000, sequence))
    said = refused["raw_log"][:90]
    print(f"trading host: withdrawal with the hot key: code {refused['code']} (refused: {said})")
    if (placed["code"], cancelled["code"]) != (0, 0) or refused["code"] == 0:
        raise SystemExit("trading host: the chain did not treat the hot key as the recipe says")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "keygen":
        keygen(Path(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "trade":
        trade(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
