"""dYdX's official Python client (dydx-v4-client 1.1.5) as an oracle, in its own venv (.venv-dydx4).

    .venv-dydx4/bin/python tests/compat/dydx4_oracle.py < cases.json

Reads ``{"cases": [{"mnemonic", "request"}]}`` (request: the v4-tx-request fields) on stdin and prints,
per case, what the official client makes of it: the mnemonic's address, and body, auth_info, signature
and TxRaw of the transaction, built with its own message helpers, Wallet, KeyPair and Builder. Builder
cannot set a timeout height, so the body is copied with the height set and re-signed with the client's
own get_signature, as the kit's vectors were generated. Test scaffolding: it imports nothing of ours.
"""

import base64
import json
import sys

from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.node import message as helpers
from dydx_v4_client.node.builder import Builder, as_any, get_signature
from dydx_v4_client.wallet import Wallet
from v4_proto.cosmos.base.v1beta1.coin_pb2 import Coin
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import Fee, TxBody, TxRaw
from v4_proto.dydxprotocol.accountplus.tx_pb2 import MsgAddAuthenticator


def sub(value):
    return helpers.subaccount(value["owner"], value["number"])


def build_message(entry):
    url, v = entry["type_url"], entry["value"]
    if url.endswith("MsgAddAuthenticator"):
        # The helper would re-encode the tree; the raw class keeps the request's exact bytes.
        data = base64.b64decode(v["data_base64"])
        return MsgAddAuthenticator(sender=v["sender"], authenticator_type=v["authenticator_type"], data=data)
    if url.endswith("MsgRemoveAuthenticator"):
        return helpers.remove_authenticator(v["sender"], v["id"])
    if url.endswith("MsgDepositToSubaccount"):
        return helpers.deposit(v["sender"], sub(v["recipient"]), v["asset_id"], v["quantums"])
    if url.endswith("MsgWithdrawFromSubaccount"):
        return helpers.withdraw(sub(v["sender"]), v["recipient"], v["asset_id"], v["quantums"])
    if url.endswith("MsgCreateTransfer"):
        t = v["transfer"]
        return helpers.transfer(sub(t["sender"]), sub(t["recipient"]), t["asset_id"], t["amount"])
    (coin,) = v["amount"]
    return helpers.send_token(v["from_address"], v["to_address"], int(coin["amount"]), coin["denom"])


def run(case):
    request = case["request"]
    key = KeyPair.from_mnemonic(case["mnemonic"])
    wallet = Wallet(key, request["account_number"], request["sequence"])
    (coin,) = request["fee"]["amount"]
    builder = Builder(request["chain_id"], coin["denom"], memo=request["memo"])
    fee = Fee(amount=[Coin(denom=coin["denom"], amount=coin["amount"])], gas_limit=request["gas_limit"])
    tx = builder.build_transaction(wallet, [as_any(build_message(m)) for m in request["messages"]], fee)
    body = TxBody()
    body.CopyFrom(tx.body)
    body.timeout_height = request["timeout_height"]
    signature = get_signature(key, body, tx.auth_info, request["account_number"], request["chain_id"])
    raw = TxRaw(
        body_bytes=body.SerializeToString(),
        auth_info_bytes=tx.auth_info.SerializeToString(),
        signatures=[signature],
    )
    return {
        "address": wallet.address,
        "public_key": key.public_key_bytes.hex(),
        "body_bytes": raw.body_bytes.hex(),
        "auth_info_bytes": raw.auth_info_bytes.hex(),
        "signature": signature.hex(),
        "tx_raw": raw.SerializeToString().hex(),
    }


if __name__ == "__main__":
    cases = json.load(sys.stdin)["cases"]
    json.dump([run(c) for c in cases], sys.stdout)
