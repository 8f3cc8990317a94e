"""`sign v4`: a reviewed dYdX v4 transaction, signed SIGN_MODE_DIRECT by the cold account's v4 key.

The bytes signed are the ones the review was built from: ``review_v4_request`` returns the typed unsigned
transaction, whose body and auth_info bytes our encoder makes; the SignDoc over them is hashed with SHA-256
and signed (RFC 6979, low-s, verified before release, offline/keys/v4_account.py). The answer is an
origin-signed ``v4-signed-tx`` whose body validator re-verifies SignDoc → public key → address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.v4_account import V4Account, sign_direct
from dydx_airgap.offline.keys.v4_derive import derive_one, v4_sources
from dydx_airgap.offline.options import KeySourceOptions, V4MnemonicOptions
from dydx_airgap.offline.review.v4_review import V4Policy, V4Review, review_v4_request
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.tx import tx_hash
from dydx_airgap.shared.timestamps import now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload


@dataclass(frozen=True)
class V4Signer:
    account: V4Account
    origin: ColdKey  # the Ethereum key (or, for a v4 mnemonic, the v4 key) that origin-signs payloads
    key_source: str


def load_v4_signer(
    network: V4Network, key_options: KeySourceOptions, v4_mnemonic: V4MnemonicOptions, account: int
) -> V4Signer:
    from dydx_airgap.offline.hygiene import harden_process

    harden_process()
    (source,) = v4_sources(key_options, v4_mnemonic, [account])
    derived, _signature, origin = derive_one(network, source)
    return V4Signer(derived, origin, "ethereum-key" if source.key is not None else "v4-mnemonic")


@dataclass(frozen=True)
class SignedV4:
    payload: Payload
    review: V4Review


def sign_v4_request(request: Payload, network: V4Network, signer: V4Signer, policy: V4Policy) -> SignedV4:
    review = review_v4_request(request, network, signer.origin.address, signer.account.public_key, policy)
    unsigned = review.unsigned
    doc = unsigned.sign_doc()
    signature = sign_direct(signer.account.private_key, doc.encode())
    raw = unsigned.tx_raw(signature)
    payload = new_payload(
        "v4-signed-tx",
        request.network_id,
        signer.origin.address,
        {
            "chain_id": unsigned.chain_id,
            "account_number": unsigned.account_number,
            "sequence": unsigned.auth_info.signer.sequence,
            "timeout_height": unsigned.body.timeout_height,
            "address": signer.account.address,
            "public_key": signer.account.public_key.hex(),
            "tx_raw": raw.hex(),
            "tx_hash": tx_hash(raw),
            "sign_doc_sha256": hashlib.sha256(doc.encode()).hexdigest(),
            "request_sha256": request.digest.hex(),
        },
        answers=request.id,
        now=now_utc(),
        signer=signer.origin.origin_signer(),
    )
    return SignedV4(payload, review)
