"""The dYdX Chain onboarding signature: the EIP-712 digest a wallet signs, and the entropy it yields.

The web app asks the Ethereum wallet to sign ``dYdX(string action)`` with action "dYdX Chain Onboarding"
in the domain ``EIP712Domain(string name,uint256 chainId)`` — no version, no verifying contract, no salt.
Any extra domain *type* changes the digest and so every derived key; the encoding is therefore written
out by hand here and pinned to the spec's hashes (spec §A1, §B1).

The 65-byte signature's r‖s, hashed with keccak-256, is the BIP-39 entropy of the account; v is left out
so that wallets writing v as 0/1 or 27/28 derive the same account. The signature and the entropy are
secrets (they are the account); this module only computes, the cold side keeps them wrapped.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.keccak import keccak256

DOMAIN_NAME = "dYdX Chain"
PRIMARY_TYPE = "dYdX"
ACTION = "dYdX Chain Onboarding"
DOMAIN_TYPE = "EIP712Domain(string name,uint256 chainId)"
MESSAGE_TYPE = "dYdX(string action)"
#: BIP-44 path of the account key: coin type 118 (Cosmos), account 0, external chain, index 0.
HD_PATH = "m/44'/118'/0'/0/0"
SIGNATURE_LENGTH = 65
#: The v values wallets write: 27/28 (Ethereum) or 0/1 (the raw recovery id, e.g. Ledger via MetaMask).
ACCEPTED_V = frozenset({0, 1, 27, 28})

_DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE.encode())
_MESSAGE_TYPEHASH = keccak256(MESSAGE_TYPE.encode())


def _check_chain_id(chain_id: int) -> int:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**64:
        raise InputError(f"an EIP-712 chain id is a positive integer, not {chain_id!r}")
    return chain_id


def typed_data(chain_id: int) -> dict[str, object]:
    """The full typed-data object (eth_signTypedData_v4 / eth-account ``full_message`` shape)."""
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            PRIMARY_TYPE: [{"name": "action", "type": "string"}],
        },
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "chainId": _check_chain_id(chain_id)},
        "message": {"action": ACTION},
    }


def domain_type_hash() -> bytes:
    return _DOMAIN_TYPEHASH


def message_type_hash() -> bytes:
    return _MESSAGE_TYPEHASH


def domain_separator(chain_id: int) -> bytes:
    """keccak(typeHash ‖ keccak(name) ‖ uint256(chainId))."""
    chain = _check_chain_id(chain_id).to_bytes(32, "big")
    return keccak256(_DOMAIN_TYPEHASH + keccak256(DOMAIN_NAME.encode()) + chain)


def struct_hash() -> bytes:
    """keccak(typeHash ‖ keccak(action)): the same on every network."""
    return keccak256(_MESSAGE_TYPEHASH + keccak256(ACTION.encode()))


def digest(chain_id: int) -> bytes:
    """The 32 bytes the wallet's key signs: keccak(0x19 0x01 ‖ domainSeparator ‖ structHash)."""
    return keccak256(b"\x19\x01" + domain_separator(chain_id) + struct_hash())


def entropy_from_signature(signature: bytes) -> bytes:
    """keccak-256 of the first 64 bytes (r‖s) of a 65-byte onboarding signature: 256 bits of BIP-39 entropy.

    Upstream throws on any length but 65 and ignores v; we also refuse a v no wallet writes, because such a
    byte means the input is not a signature at all (a 66-byte v3 signature cut short, a shifted buffer) and
    would silently derive an account nobody can reproduce.
    """
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        raise InputError("the onboarding signature must be exactly 65 bytes (r ‖ s ‖ v)")
    if signature[64] not in ACCEPTED_V:
        raise InputError("the onboarding signature's last byte (v) must be 0, 1, 27 or 28")
    return keccak256(signature[:64])
