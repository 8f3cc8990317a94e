"""A trading bot built on dYdX's official Python client (dydx-v4-client 1.1.5), run in its own venv.

It signs with the client's own Builder, KeyPair and Wallet and sends each transaction to the node's REST
broadcast endpoint (the client itself speaks gRPC, which the local stand-in does not serve). Arguments:
node URL, chain id, owner address, owner account number, owner sequence, owner mnemonic, hot key hex,
authenticator id, latest height, USDC denom. Prints one JSON object: for each transaction its hex and the
node's CheckTx answer.
"""

from __future__ import annotations

import base64
import json
import sys

import httpx
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.node import message as msg
from dydx_v4_client.node.builder import Builder, TxOptions
from dydx_v4_client.wallet import Wallet
from v4_proto.dydxprotocol.clob.order_pb2 import Order


def main() -> None:
    node, chain_id, owner, account_number, sequence, mnemonic, hot_hex, auth_id, height, usdc = sys.argv[1:]
    account_number_i, sequence_i, auth_id_i, height_i = map(int, (account_number, sequence, auth_id, height))
    builder = Builder(chain_id, usdc, memo="")
    hot = Wallet(KeyPair.from_hex(hot_hex), account_number_i, sequence_i)
    as_hot = TxOptions(authenticators=[auth_id_i], sequence=sequence_i, account_number=account_number_i)
    out: dict[str, object] = {"hot_public_key": hot.key.public_key_bytes.hex()}

    def send(name: str, tx: object) -> None:
        raw = tx.SerializeToString()  # type: ignore[attr-defined]
        body = {"tx_bytes": base64.b64encode(raw).decode(), "mode": "BROADCAST_MODE_SYNC"}
        answer = httpx.post(node + "/cosmos/tx/v1beta1/txs", json=body, timeout=10).json()["tx_response"]
        out[name] = {"tx_hex": raw.hex(), "code": answer["code"], "raw_log": answer["raw_log"]}

    oid = msg.order_id(owner, 0, 77, 0, 0)
    order = msg.order(
        oid,
        Order.Side.SIDE_BUY,
        1_000_000,
        5_000_000,
        Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
        False,
        good_til_block=height_i + 10,
    )
    send("hot_place_order", builder.build(hot, msg.place_order(order), tx_options=as_hot))
    cancel = msg.cancel_order(oid, good_til_block=height_i + 12)
    send("hot_cancel_order", builder.build(hot, cancel, tx_options=as_hot))
    fee = builder.fee(200_000, builder.coin(5000))
    withdrawal = msg.withdraw(msg.subaccount(owner, 0), owner, 0, 1_000_000)
    send("hot_withdraw", builder.build(hot, withdrawal, fee, tx_options=as_hot))
    transfer = msg.transfer(msg.subaccount(owner, 0), msg.subaccount(owner, 1), 0, 1_000_000)
    send("hot_transfer", builder.build(hot, transfer, fee, tx_options=as_hot))

    owner_wallet = Wallet(KeyPair.from_mnemonic(mnemonic), account_number_i, sequence_i)
    out["owner_address_by_client"] = owner_wallet.address
    deposit = msg.deposit(owner, msg.subaccount(owner, 0), 0, 2_000_000)
    send("owner_deposit", builder.build(owner_wallet, deposit, fee))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
