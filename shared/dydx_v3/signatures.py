"""Verification of dYdX Ethereum-key signatures, shared by the relay, the local API and the auditor.

The rules are the ones dYdX's clients imply its server applied (spec dydx-v3.md §6): the signature must
recover, for the configured chain id, to ``DYDX-ETHEREUM-ADDRESS``; type bytes 00 (raw EIP-712), 01 (eth_sign
over the digest) and 03 (personal_sign of the pretty JSON) are accepted.
"""

from __future__ import annotations

from collections.abc import Callable

from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    eth_private_action_digest,
    onboarding_action_digest,
    onboarding_action_message,
    personal_sign_text,
)
from dydx_airgap.shared.errors import SignatureError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.ethereum.typed_signature import SignatureType, TypedSignature, recover_typed_signer

ACCEPTED_TYPES = frozenset({SignatureType.NO_PREPEND, SignatureType.DECIMAL, SignatureType.PERSONAL})


def _check(
    signature: TypedSignature, digest: bytes, text: str | Callable[[], str], address: str, what: str
) -> TypedSignature:
    """``text``: the personal-sign text, or how to make it (only a type-03 signature needs it; an audit
    checks tens of thousands of type-00 rungs)."""
    if signature.sig_type not in ACCEPTED_TYPES:
        raise SignatureError(f"{what}: signature type {signature.sig_type:02x} is not accepted")
    personal = None
    if signature.sig_type is SignatureType.PERSONAL:
        personal = text() if callable(text) else text
    signer = recover_typed_signer(digest, signature, personal_text=personal)
    if not same_address(signer, address):
        raise SignatureError(f"{what}: signature does not recover to {address}")
    return signature


def verify_onboarding_signature(chain_id: int, signature: str, address: str) -> TypedSignature:
    """Check a ``POST /v3/onboarding`` ``DYDX-SIGNATURE`` (action "dYdX Onboarding") for ``address``."""
    sig = TypedSignature.from_hex(signature)
    digest = onboarding_action_digest(chain_id, ONBOARDING_ACTION)
    text = personal_sign_text(chain_id, onboarding_action_message(chain_id, ONBOARDING_ACTION))
    return _check(sig, digest, text, address, "onboarding signature")


def eth_private_personal_text(
    chain_id: int, method: str, request_path: str, body: str, timestamp: str
) -> str:
    message = {"method": method, "requestPath": request_path, "body": body, "timestamp": timestamp}
    return personal_sign_text(chain_id, message)


def verify_eth_private_signature(
    chain_id: int,
    method: str,
    request_path: str,
    body: str,
    timestamp: str,
    signature: str,
    address: str,
) -> TypedSignature:
    """Check the ``DYDX-SIGNATURE`` of an Ethereum-key authenticated call (api-keys, recovery)."""
    return verify_eth_private_rung(chain_id, method, request_path, body, timestamp, signature, address)[0]


def verify_eth_private_rung(
    chain_id: int,
    method: str,
    request_path: str,
    body: str,
    timestamp: str,
    signature: str,
    address: str,
) -> tuple[TypedSignature, bytes]:
    """:func:`verify_eth_private_signature`, also returning the EIP-712 digest it checked (an audit compares
    it with the evidence log's, and need not compute it twice)."""
    sig = TypedSignature.from_hex(signature)
    digest = eth_private_action_digest(chain_id, method, request_path, body, timestamp)

    def text() -> str:
        return eth_private_personal_text(chain_id, method, request_path, body, timestamp)

    return _check(sig, digest, text, address, f"{method} {request_path}"), digest
