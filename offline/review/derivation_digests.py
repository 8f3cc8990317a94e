"""Precomputed derivation digests, in the forms an incoming string may carry them.

A request could carry the EIP-712 digest of "dYdX STARK Key" itself, for a signer that signs digests. The
digest depends on the chain id in the domain, so it is computed for every chain id from 1 to
``MAX_LISTED_CHAIN_ID`` and for the well-known EVM chains above that, each also wrapped as an
``eth_sign`` message; and a 32-byte value is looked for as hex (with any separators), base64 or base64url,
and decimal. The set is built on first need (about a second), not at import.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from dydx_airgap.shared.dydx_v3.eip712 import ONBOARDING_ACTION, STARK_KEY_ACTION, onboarding_action_digest
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.dydx_v4.onboarding import DOMAIN_TYPE as V4_DOMAIN_TYPE
from dydx_airgap.shared.dydx_v4.onboarding import MESSAGE_TYPE as V4_MESSAGE_TYPE
from dydx_airgap.shared.ethereum.keccak import keccak256

MAX_LISTED_CHAIN_ID = 4096
#: Chains above MAX_LISTED_CHAIN_ID a request might name (L2s, testnets), by chain id.
WELL_KNOWN_CHAIN_IDS = frozenset(
    {
        8453,
        17000,
        42161,
        42170,
        43113,
        43114,
        59144,
        80001,
        80002,
        81457,
        84532,
        421614,
        534352,
        7777777,
        11155111,
        11155420,
        1313161554,
    }
)

#: dYdX v4 onboarding templates (spec §A1, §A4): today's, and the early testnet builds'. A MetaMask-style
#: ``verifyingContract: ""`` *value* changes no digest (the type list is unchanged), so it is covered too.
V4_TEMPLATES = (("dYdX Chain", "dYdX Chain Onboarding"), ("dYdX V4", "dYdX V4 Onboarding"))
#: Ethereum chain ids v4 environments have signed the onboarding message for: mainnet, Sepolia, Goerli.
V4_CHAIN_IDS = frozenset({1, 5, 11155111})


def v4_onboarding_digest(name: str, action: str, chain_id: int) -> bytes:
    domain = keccak256(
        keccak256(V4_DOMAIN_TYPE.encode()) + keccak256(name.encode()) + chain_id.to_bytes(32, "big")
    )
    struct = keccak256(keccak256(V4_MESSAGE_TYPE.encode()) + keccak256(action.encode()))
    return keccak256(b"\x19\x01" + domain + struct)


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{42,46}={0,2}")
_DECIMAL = re.compile(r"\d{60,80}")


@functools.cache
def forbidden_digests() -> frozenset[bytes]:
    chain_ids = set(range(1, MAX_LISTED_CHAIN_ID + 1)) | WELL_KNOWN_CHAIN_IDS | set(NETWORKS)
    raw = [
        onboarding_action_digest(chain_id, action)
        for chain_id in sorted(chain_ids)
        for action in (STARK_KEY_ACTION, ONBOARDING_ACTION)
    ]
    raw += [
        v4_onboarding_digest(name, action, chain_id)
        for chain_id in sorted(V4_CHAIN_IDS | WELL_KNOWN_CHAIN_IDS | set(NETWORKS))
        for name, action in V4_TEMPLATES
    ]
    digests: set[bytes] = set()
    for d in raw:
        digests.update(
            (
                d,
                keccak256(b"\x19Ethereum Signed Message:\n32" + d),
                keccak256(b"\x19Ethereum Signed Message:\n\x20" + d),
            )
        )
    return frozenset(digests)


def _candidates(text: str) -> set[bytes]:
    found: set[bytes] = set()
    hexdigits = "".join(c for c in text.lower() if c in "0123456789abcdef")
    for i in range(len(hexdigits) - 63):
        found.add(bytes.fromhex(hexdigits[i : i + 64]))
    for token in _BASE64.findall(text):
        padded = token.replace("-", "+").replace("_", "/").rstrip("=")
        try:
            raw = base64.b64decode(padded + "=" * (-len(padded) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        found.update(raw[i : i + 32] for i in range(max(0, len(raw) - 31)))
    for token in _DECIMAL.findall(text):
        value = int(token)
        if value < 1 << 256:
            found.add(value.to_bytes(32, "big"))
    return found


def carries_derivation_digest(text: str) -> bool:
    candidates = _candidates(text)
    return bool(candidates) and not candidates.isdisjoint(forbidden_digests())
