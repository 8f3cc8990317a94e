"""The reference side of P1: dYdX's own client, dydx-v3-python 2.1.0, derives the same accounts.

Runs inside the dydx3 virtualenv (web3 5 / eth-account 0.5 cannot share ours) and times itself:

    bench/venv-dydx3/bin/python bench/dydx3_reference.py < request.json > answer.json

The request (on stdin, never argv: it names a mnemonic) is ``{"mnemonic", "chain_id", "indices"}``. The
answer is one JSON document: versions, import time and, per account, the three outputs with the time of each
step. The client is used as its users use it — ``Client(eth_private_key=...)`` derives the default API
credentials, ``onboarding.derive_stark_key()`` the STARK pair — and the onboarding signature is signed once
more, since dydx3 signs it again for every ``create_user`` and offers no other way to obtain it.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata
from typing import Any

_started = time.perf_counter()
from dydx3 import Client  # noqa: E402 - timed on purpose
from dydx3.constants import OFF_CHAIN_ONBOARDING_ACTION  # noqa: E402
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _started
UNUSED_HOST = "http://127.0.0.1:9"  # the client needs a host; nothing here sends a request


def derive(seed: bytes, index: int, chain_id: int) -> dict[str, Any]:
    started = time.perf_counter()
    eth_key = key_from_seed(seed, f"m/44'/60'/0'/0/{index}")
    keyed = time.perf_counter()
    client = Client(host=UNUSED_HOST, network_id=chain_id, eth_private_key=eth_key)
    stark = client.onboarding.derive_stark_key()
    derived = time.perf_counter()
    onboarding_signature = client.onboarding.signer.sign(
        client.default_address, action=OFF_CHAIN_ONBOARDING_ACTION
    )
    signed = time.perf_counter()
    return {
        "index": index,
        "address": client.default_address,
        "stark_private_key": stark["private_key"],
        "stark_public_key": stark["public_key"],
        "stark_public_key_y": stark["public_key_y_coordinate"],
        "api_key": client.api_key_credentials,
        "onboarding_signature": onboarding_signature,
        "seconds": {
            "bip32": keyed - started,
            "client_and_stark_key": derived - keyed,
            "onboarding_signature": signed - derived,
        },
    }


def main() -> None:
    request = json.load(sys.stdin)
    chain_id = int(request["chain_id"])
    seed = seed_from_mnemonic(request["mnemonic"], "")
    derive(seed, 0, chain_id)  # warm-up: first-call caches (ABI types, curve tables) are not per-account work
    accounts = [derive(seed, int(index), chain_id) for index in request["indices"]]
    versions = {
        name: metadata.version(name) for name in ("dydx-v3-python", "web3", "eth-account", "eth-keys")
    }
    from eth_keys.backends import get_backend

    json.dump(
        {
            "python": sys.version.split()[0],
            "versions": versions,
            "eth_keys_backend": type(get_backend()).__name__,
            "import_seconds": IMPORT_SECONDS,
            "accounts": accounts,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
