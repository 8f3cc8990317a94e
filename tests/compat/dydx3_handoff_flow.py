"""Load a decrypted handoff file into dYdX's own Python client, unchanged (dydx-v3-python 2.1.0), and use it.

Runs in its own virtualenv, as the trading host's bot would:
    .venv-dydx3/bin/python tests/compat/dydx3_handoff_flow.py URL HANDOFF_JSON
HANDOFF_JSON is what `age -d -i key.txt sealed.json.age` printed: a list with one object per account whose
Client arguments are passed as they are. Prints one JSON document (the client's STARK key, the registered
account, its API keys, a STARK-signed order and withdrawal with their hashes); tests/test_handoff.py checks
the signatures with our own STARK code against the registered key.
"""

from __future__ import annotations

import json
import sys
import time

from dydx3 import Client
from dydx3.constants import MARKET_BTC_USD, ORDER_SIDE_BUY
from dydx3.starkex.order import SignableOrder
from dydx3.starkex.withdrawal import SignableWithdrawal

CLIENT_ARGUMENTS = (
    "network_id",
    "default_ethereum_address",
    "stark_private_key",
    "stark_public_key",
    "stark_public_key_y_coordinate",
    "api_key_credentials",
)


def main() -> None:
    url, handoff_file = sys.argv[1], sys.argv[2]
    with open(handoff_file) as f:
        entry = json.load(f)[0]
    # The client checks that the private key gives the public key it is handed (as strings): the file's
    # spelling must be its own for this to pass.
    client = Client(host=url, **{name: entry[name] for name in CLIENT_ARGUMENTS})
    out: dict = {"client_stark_public_key": client.stark_public_key}
    account = client.private.get_account().data["account"]
    out["account"] = account
    out["api_keys"] = client.private.get_api_keys().data
    expiration = int(time.time()) + 7 * 24 * 3600
    order = SignableOrder(
        network_id=client.network_id,
        market=MARKET_BTC_USD,
        side=ORDER_SIDE_BUY,
        position_id=account["positionId"],
        human_size="0.01",
        human_price="20000",
        limit_fee="0.0015",
        client_id="handoff-order-1",
        expiration_epoch_seconds=expiration,
    )
    withdrawal = SignableWithdrawal(
        network_id=client.network_id,
        position_id=account["positionId"],
        human_amount="100",
        client_id="handoff-withdrawal-1",
        expiration_epoch_seconds=expiration,
    )
    for name, signable in (("order", order), ("withdrawal", withdrawal)):
        out[name] = {"hash": hex(signable.hash), "signature": signable.sign(client.stark_private_key)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
