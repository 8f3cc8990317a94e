"""Origin signatures: the cold key vouches for every payload it exports.

dYdX's onboarding signature covers only the action string — not the STARK key in the request body — and a
payload's seal is a plain hash anyone can recompute. So a tampered USB stick or relay could swap the STARK
key (or an address, or a fingerprint) in a payload and keep everything consistent. Every payload the cold
machine exports therefore carries an EIP-191 signature by the Ethereum key over a fixed, domain-separated
text naming the chain, the address and the SHA-256 of the payload's content; decoding verifies it.
The text can never be a dYdX EIP-712 digest, a dYdX personal-sign JSON text, a transaction or a derivation
message.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import FormatError, SignatureError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.ethereum.eip191 import personal_message_hash
from dydx_airgap.shared.ethereum.typed_signature import SignatureType, TypedSignature, recover_hash_signer

PREFIX = "dydx-airgap payload v1"


def origin_message(chain_id: int, address: str, content_sha256: bytes) -> str:
    if len(content_sha256) != 32:
        raise FormatError("a payload content digest is 32 bytes")
    return f"{PREFIX}\nchain id: {chain_id}\naddress: {address}\nsha256: {content_sha256.hex()}"


def origin_message_hash(chain_id: int, address: str, content_sha256: bytes) -> bytes:
    return personal_message_hash(origin_message(chain_id, address, content_sha256).encode("utf-8"))


def verify_origin(chain_id: int, address: str, content_sha256: bytes, signature: str) -> None:
    sig = TypedSignature.from_hex(signature)
    if sig.sig_type is not SignatureType.PERSONAL:
        raise SignatureError("a payload origin signature must be a personal-sign (type 03) signature")
    signer = recover_hash_signer(origin_message_hash(chain_id, address, content_sha256), sig)
    if not same_address(signer, address):
        raise SignatureError(
            f"payload origin signature is not by {address}: the payload was altered or not made by that key"
        )
