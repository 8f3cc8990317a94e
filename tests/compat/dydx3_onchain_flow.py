"""Drive the local chain with dYdX's own on-chain module, unchanged (dydx-v3-python 2.1.0's ``client.eth``).

Runs in the dydx3 virtualenv (web3 5, eth-account 0.5), like dydx3_client_flow.py:
    .venv-dydx3/bin/python tests/compat/dydx3_onchain_flow.py API_URL RPC_URL CHAIN_ID ETH_KEY DEPLOYMENT_JSON
and prints one JSON document; tests/online/test_local_api.py checks it against the chain and the API.

dydx3 sends legacy (type 0) transactions priced from ``eth_gasPrice``, estimates gas itself and takes the
StarkPerpetual address, the USDC address and the collateral asset id from its constants. The local chain's
contracts live at their own addresses, so the one thing set here is those three table entries — what a user
of dydx3 on any network it does not ship addresses for would set; no code of the client is changed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dydx3.constants as constants
from dydx3 import Client
from dydx3.errors import TransactionReverted


def _receipt(client: Client, tx_hash: str) -> dict[str, Any]:
    try:
        client.eth.wait_for_tx(tx_hash)
    except TransactionReverted as exc:
        return {"tx_hash": tx_hash, "reverted": True, "detail": str(exc)[:200]}
    receipt = client.web3.eth.get_transaction_receipt(tx_hash)
    sent = client.web3.eth.get_transaction(tx_hash)
    return {
        "tx_hash": tx_hash,
        "reverted": False,
        "status": receipt["status"],
        "type": str(sent.get("type")),
        "gas_price": int(sent["gasPrice"]),
        "logs": len(receipt["logs"]),
    }


def main() -> None:
    api_url, rpc_url, chain_id, eth_key, deployment_path = sys.argv[1:6]
    network = int(chain_id)
    with open(deployment_path) as handle:
        deployment = json.load(handle)
    constants.STARKWARE_PERPETUALS_CONTRACT[network] = deployment["starkPerpetual"]
    constants.TOKEN_CONTRACTS[constants.COLLATERAL_ASSET][network] = deployment["usdc"]
    constants.COLLATERAL_ASSET_ID_BY_NETWORK_ID[network] = int(deployment["collateralAssetId"], 16)

    client = Client(host=api_url, network_id=network, eth_private_key=eth_key, web3_provider=rpc_url)
    out: dict[str, Any] = {"address": client.default_address}
    stark = client.onboarding.derive_stark_key()
    out["stark_public_key"] = stark["public_key"]
    onboarding = client.onboarding.create_user(
        stark_public_key=stark["public_key"],
        stark_public_key_y_coordinate=stark["public_key_y_coordinate"],
    ).data
    out["position_id"] = onboarding["account"]["positionId"]
    registration = client.private.get_registration().data["signature"]

    out["register_user"] = _receipt(
        client, client.eth.register_user(registration, stark_public_key=stark["public_key"])
    )
    out["set_token_max_allowance"] = _receipt(
        client, client.eth.set_token_max_allowance(spender=deployment["starkPerpetual"])
    )
    out["allowance"] = str(client.eth.get_token_allowance(spender=deployment["starkPerpetual"]))
    out["deposit_to_exchange"] = _receipt(
        client,
        client.eth.deposit_to_exchange(
            position_id=out["position_id"], human_amount="250.5", stark_public_key=stark["public_key"]
        ),
    )
    out["usdc_balance_after"] = int(client.eth.get_token_balance())
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
