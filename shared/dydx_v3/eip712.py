"""The two EIP-712 structs dYdX v3 uses, encoded by hand (spec dydx-v3.md §3) on shared/ethereum/eip712.py.

Every builder takes the chain id explicitly: a signature made for one network must never verify on
another.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.eip712 import encode_string, encode_uint256, type_hash, typed_data_digest
from dydx_airgap.shared.ethereum.keccak import keccak256

DOMAIN_NAME = "dYdX"
DOMAIN_VERSION = "1.0"
PRIMARY_TYPE = "dYdX"
ONLY_SIGN_ON = "https://trade.dydx.exchange"
MAINNET_CHAIN_ID = 1

#: Action of the signature whose hash *is* the STARK private key (a secret; signed only inside derivation).
STARK_KEY_ACTION = "dYdX STARK Key"
#: Action of the onboarding signature (the seed of the default API credentials).
ONBOARDING_ACTION = "dYdX Onboarding"

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId)"
ONBOARDING_TYPE_MAINNET = "dYdX(string action,string onlySignOn)"
ONBOARDING_TYPE_OTHER = "dYdX(string action)"
ETH_PRIVATE_TYPE = "dYdX(string method,string requestPath,string body,string timestamp)"

_DOMAIN_TYPEHASH = type_hash(DOMAIN_TYPE)
_ONBOARDING_TYPEHASH_MAINNET = type_hash(ONBOARDING_TYPE_MAINNET)
_ONBOARDING_TYPEHASH_OTHER = type_hash(ONBOARDING_TYPE_OTHER)
_ETH_PRIVATE_TYPEHASH = type_hash(ETH_PRIVATE_TYPE)


def _check_chain_id(chain_id: int) -> int:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**64:
        raise InputError(f"chain id must be a positive integer, not {chain_id!r}")
    return chain_id


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int) -> bytes:
    """keccak(typeHash ‖ keccak("dYdX") ‖ keccak("1.0") ‖ chainId): no verifyingContract, no salt."""
    chain_id = _check_chain_id(chain_id)
    return keccak256(
        _DOMAIN_TYPEHASH
        + encode_string(DOMAIN_NAME)
        + encode_string(DOMAIN_VERSION)
        + encode_uint256(chain_id)
    )


def _digest(chain_id: int, struct_hash: bytes) -> bytes:
    return typed_data_digest(domain_separator(chain_id), struct_hash)


def onboarding_action_message(chain_id: int, action: str) -> dict[str, str]:
    """The message fields: ``onlySignOn`` exists on mainnet (chain id 1) only, exactly as dYdX built it."""
    _check_chain_id(chain_id)
    if chain_id == MAINNET_CHAIN_ID:
        return {"action": action, "onlySignOn": ONLY_SIGN_ON}
    return {"action": action}


@functools.lru_cache(maxsize=64)
def onboarding_action_digest(chain_id: int, action: str) -> bytes:
    """EIP-712 digest of the onboarding-action struct (used for the STARK key and the onboarding call)."""
    if _check_chain_id(chain_id) == MAINNET_CHAIN_ID:
        struct = keccak256(_ONBOARDING_TYPEHASH_MAINNET + encode_string(action) + encode_string(ONLY_SIGN_ON))
    else:
        struct = keccak256(_ONBOARDING_TYPEHASH_OTHER + encode_string(action))
    return _digest(chain_id, struct)


def eth_private_action_digest(
    chain_id: int, method: str, request_path: str, body: str, timestamp: str
) -> bytes:
    """EIP-712 digest of an Ethereum-key authenticated REST call (POST/DELETE /v3/api-keys, /v3/recovery)."""
    struct = keccak256(
        _ETH_PRIVATE_TYPEHASH
        + _encoded_request_member(method)
        + _encoded_request_member(request_path)
        + _encoded_request_member(body)
        + encode_string(timestamp)
    )
    return _digest(chain_id, struct)


@functools.lru_cache(maxsize=1024)
def _encoded_request_member(value: str) -> bytes:
    """encode_string of a REST call's method, path or body: public, and the same in every rung of a ladder
    and every call of a batch (an audit recomputes thousands of these digests)."""
    return encode_string(value)


def typed_data(chain_id: int, message: dict[str, str]) -> dict[str, Any]:
    """The eth_signTypedData (v4) JSON of a dYdX struct, for display and for cross-checks."""
    fields = list(message)
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            PRIMARY_TYPE: [{"name": f, "type": "string"} for f in fields],
        },
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": _check_chain_id(chain_id)},
        "primaryType": PRIMARY_TYPE,
        "message": dict(message),
    }


def personal_sign_text(chain_id: int, message: dict[str, str]) -> str:
    """The text v3-client signs with personal_sign (signature type 03).

    Keys name, version, chainId come first, then the message fields in alphabetical order, as JSON with
    two-space indentation and no ASCII escaping (JavaScript's JSON.stringify(obj, null, 2)).
    """
    ordered: dict[str, object] = {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": _check_chain_id(chain_id),
    }
    for key in sorted(message):
        ordered[key] = message[key]
    return json.dumps(ordered, indent=2, ensure_ascii=False)
