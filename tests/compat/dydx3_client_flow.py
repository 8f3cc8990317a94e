"""Drive the local API with dYdX's own Python client, unchanged (dydx-v3-python 2.1.0).

Runs in its own virtualenv (dydx3 pins web3 5 / eth-account 0.5, which cannot share ours):
    .venv-dydx3/bin/python tests/compat/dydx3_client_flow.py URL CHAIN_ID ETH_KEY_HEX SECOND_STARK_KEY_HEX
and prints one JSON document with every response; tests/test_local_api.py checks it.
Failures the flow expects (second onboarding, deleting the last key) are recorded, not raised.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from dydx3 import Client
from dydx3.errors import DydxApiError
from dydx3.starkex.helpers import private_key_to_public_key_pair_hex


def _api_error(call: Any) -> dict[str, Any]:
    try:
        call()
    except DydxApiError as exc:
        return {"status": exc.status_code, "body": exc.msg}
    return {"status": None, "body": "no error raised"}


def main() -> None:
    url, chain_id, eth_key, second_stark_private = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out: dict[str, Any] = {}

    client = Client(host=url, network_id=chain_id, eth_private_key=eth_key)
    address = client.default_address
    out["address"] = address
    out["client_default_api_key"] = client.api_key_credentials
    stark = client.onboarding.derive_stark_key()
    out["stark_public_key"] = stark["public_key"]
    out["stark_public_key_y_coordinate"] = stark["public_key_y_coordinate"]

    out["exists_before"] = client.public.check_if_user_exists(address).data
    out["onboarding"] = client.onboarding.create_user(
        stark_public_key=stark["public_key"],
        stark_public_key_y_coordinate=stark["public_key_y_coordinate"],
    ).data
    out["second_onboarding_error"] = _api_error(
        lambda: client.onboarding.create_user(
            stark_public_key=stark["public_key"],
            stark_public_key_y_coordinate=stark["public_key_y_coordinate"],
        )
    )
    out["exists_after"] = client.public.check_if_user_exists(address).data

    created = client.eth_private.create_api_key().data
    out["created_api_key"] = created
    out["api_keys"] = client.private.get_api_keys().data
    second = Client(
        host=url,
        network_id=chain_id,
        api_key_credentials=created["apiKey"],
        default_ethereum_address=address,
    )
    out["user_via_created_key"] = second.private.get_user().data
    out["delete_created_key"] = client.eth_private.delete_api_key(api_key=created["apiKey"]["key"]).data
    out["api_keys_after_delete"] = client.private.get_api_keys().data
    out["delete_last_key_error"] = _api_error(
        lambda: client.eth_private.delete_api_key(api_key=client.api_key_credentials["key"])
    )
    out["deleted_key_rejected"] = _api_error(second.private.get_user)

    out["registration"] = client.private.get_registration().data
    out["user"] = client.private.get_user().data
    out["updated_user"] = client.private.update_user(
        user_data={"desk": "mm-1", "tier": 2},
        email="ops@example.com",
        username="desk_one",
        is_sharing_username=True,
        is_sharing_address=False,
        country="sg",
    ).data
    out["bad_update_error"] = _api_error(lambda: client.private.update_user(email="not an email"))
    out["user_after_update"] = client.private.get_user().data
    out["account"] = client.private.get_account().data

    second_x, second_y = private_key_to_public_key_pair_hex(second_stark_private)
    out["second_stark_public_key"] = second_x
    out["created_account"] = client.private.create_account(
        stark_public_key=second_x, stark_public_key_y_coordinate=second_y
    ).data
    out["accounts"] = client.private.get_accounts().data
    out["recovery"] = client.eth_private.recovery().data
    out["time"] = client.public.get_time().data
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
