"""Body shapes of the three dYdX v4 payload kinds (the kinds are rows in kinds.py).

The envelope of a v4 payload is the same as every other: ``network_id`` is the *Ethereum* chain id of the
v4 environment's onboarding signature (1 for mainnet, 11155111 for testnet) and ``address`` the Ethereum
address whose origin signature covers the payload. The Cosmos facts (chain id, ``dydx1…`` address, public
key) are in the body, and every one is checked against the others here, so a body that decodes is
internally consistent: the address is the key's, the signed transaction verifies, its hash is its hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from dydx_airgap.shared.dydx_v4.address import check_address, dydx_address, noble_address
from dydx_airgap.shared.dydx_v4.networks import NETWORKS as V4_NETWORKS
from dydx_airgap.shared.dydx_v4.onboarding import HD_PATH
from dydx_airgap.shared.dydx_v4.request import unsigned_from_fields
from dydx_airgap.shared.dydx_v4.signature import verify_direct
from dydx_airgap.shared.dydx_v4.tx import parse_tx, tx_hash
from dydx_airgap.shared.errors import AirgapError, FormatError
from dydx_airgap.shared.transport.bodies import _fail, _fields, integer, one_of, optional, string

PUBKEY_HEX = re.compile(r"0[23][0-9a-f]{64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
TXHASH = re.compile(r"[0-9A-F]{64}")
#: Hex of a TxRaw: the payload envelope caps the whole file at 64 KiB anyway.
TX_RAW_HEX = re.compile(r"(?:[0-9a-f]{2}){1,24576}")
V4_ADDRESS = re.compile(r"dydx1[02-9ac-hj-np-z]{38,58}")
NOBLE_ADDRESS = re.compile(r"noble1[02-9ac-hj-np-z]{38,58}")
#: Where a v4 account's key came from: the cold Ethereum key's onboarding signature, or a v4 mnemonic
#: (a Cosmos-wallet account). For the second, the payload's origin signer is the v4 key itself, under its
#: Ethereum-style address (same curve): verifiers check that address against ``public_key``.
KEY_SOURCES = ("ethereum-key", "v4-mnemonic")


def _consistent(check: bool, message: str) -> None:
    if not check:
        _fail(message)


# --- v4-public-key (cold -> relay): the v4 account derived on the cold machine -----------------------


def v4_public_key_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "v4-public-key",
        {
            "network": one_of(*(n.name for n in V4_NETWORKS.values())),
            "chain_id": one_of(*V4_NETWORKS),
            "account": integer(0, 2**31 - 1),
            "key_source": one_of(*KEY_SOURCES),
            "derivation_path": optional(string(re.compile(r"m(/\d+'?){1,10}"), 80)),
            "onboarding_eip712_chain_id": optional(integer(1, 2**63)),
            "hd_path": one_of(HD_PATH),
            "public_key": string(PUBKEY_HEX),
            "address": string(V4_ADDRESS),
            "noble_address": string(NOBLE_ADDRESS),
        },
    )
    network = V4_NETWORKS[body["chain_id"]]
    _consistent(network.name == body["network"], "v4-public-key: network and chain_id disagree")
    from_eth = body["key_source"] == "ethereum-key"
    _consistent(
        (body["onboarding_eip712_chain_id"] == network.eip712_chain_id)
        if from_eth
        else (body["onboarding_eip712_chain_id"] is None and body["derivation_path"] is None),
        "v4-public-key: the onboarding chain id (or its absence) does not fit the key source",
    )
    try:
        key = bytes.fromhex(body["public_key"])
        ok = dydx_address(key) == body["address"] and noble_address(key) == body["noble_address"]
    except AirgapError as exc:
        raise FormatError(f"v4-public-key: {exc.message}") from None
    _consistent(ok, "v4-public-key: the addresses are not those of the public key")


# --- v4-tx-request (relay -> cold): the fields of one transaction, and the height the relay saw ---------


def v4_tx_request_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "v4-tx-request",
        {"tx": _tx_fields, "latest_height": integer(1, 2**63), "source": string(max_len=200)},
    )


def _tx_fields(where: str, value: Any) -> None:
    # The one parser the cold signer builds from, so the relay cannot send something it cannot parse.
    try:
        unsigned_from_fields(value)
    except AirgapError as exc:
        raise FormatError(f"{where}: {exc.message}") from None


# --- v4-signed-tx (cold -> relay): a broadcastable TxRaw answering one v4-tx-request -------------------


def v4_signed_tx_body(body: Mapping[str, Any]) -> None:
    _fields(
        body,
        "v4-signed-tx",
        {
            "chain_id": one_of(*V4_NETWORKS),
            "account_number": integer(0, 2**64 - 1),
            "sequence": integer(0, 2**64 - 1),
            "timeout_height": integer(1, 2**64 - 1),
            "address": string(V4_ADDRESS),
            "public_key": string(PUBKEY_HEX),
            "tx_raw": string(TX_RAW_HEX, max_len=49152),
            "tx_hash": string(TXHASH),
            "sign_doc_sha256": string(SHA256_HEX),
            "request_sha256": string(SHA256_HEX),
        },
    )
    try:
        check_signed_tx(body)
    except FormatError:
        raise
    except AirgapError as exc:
        raise FormatError(f"v4-signed-tx: {exc.message}") from None


def check_signed_tx(body: Mapping[str, Any]) -> None:
    """SignDoc → public key → address: the TxRaw is signed by the key the body names, for the account,
    chain and sequence it names. Used by the validator and by ``dydx-audit verify``."""
    raw = bytes.fromhex(body["tx_raw"])
    parsed = parse_tx(raw)
    key = bytes.fromhex(body["public_key"])
    _consistent(tx_hash(raw) == body["tx_hash"], "v4-signed-tx: tx_hash is not the SHA-256 of tx_raw")
    _consistent(parsed.auth_info.signer.public_key == key, "v4-signed-tx: the tx is not signed by public_key")
    _consistent(dydx_address(key) == body["address"], "v4-signed-tx: address is not the public key's")
    _consistent(parsed.body.signers() == (body["address"],), "v4-signed-tx: the messages name another signer")
    _consistent(parsed.auth_info.signer.sequence == body["sequence"], "v4-signed-tx: sequence differs")
    _consistent(parsed.body.timeout_height == body["timeout_height"], "v4-signed-tx: timeout differs")
    doc = parsed.sign_doc(body["chain_id"], body["account_number"]).encode()
    _consistent(
        hashlib.sha256(doc).hexdigest() == body["sign_doc_sha256"], "v4-signed-tx: sign_doc_sha256 differs"
    )
    verify_direct(key, doc, parsed.signature)
    check_address(body["address"])
