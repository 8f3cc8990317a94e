"""Cosmos account addresses: bech32(HRP, RIPEMD-160(SHA-256(33-byte compressed secp256k1 public key))).

The same 20-byte hash names the account on every Cosmos chain; only the prefix differs (``dydx`` on the
dYdX Chain, ``noble`` on Noble, where USDC enters and leaves). Parsing is stricter than the chain: a
cold-side review shows exactly one spelling per account, so only the lowercase form is accepted.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import coincurve

from dydx_airgap.shared.errors import FormatError, InputError

from . import bech32

DYDX_HRP = "dydx"
NOBLE_HRP = "noble"
COMPRESSED_PUBKEY_LENGTH = 33
ACCOUNT_HASH_LENGTH = 20
#: Module and interchain accounts are 32-byte hashes; the SDK accepts both lengths for account strings.
MODULE_HASH_LENGTH = 32


def check_compressed_pubkey(public_key: bytes) -> bytes:
    """Return ``public_key`` if it is a 33-byte compressed point on secp256k1, else raise InputError.

    The chain stores whatever 33 bytes it is given; a key that is not a point can never sign, so an
    address made from it would be a black hole.
    """
    if not isinstance(public_key, bytes) or len(public_key) != COMPRESSED_PUBKEY_LENGTH:
        raise InputError("a v4 public key is 33 bytes (compressed secp256k1)")
    if public_key[0] not in (2, 3):
        raise InputError("a compressed secp256k1 public key starts with 02 or 03")
    try:
        coincurve.PublicKey(public_key)
    except ValueError:
        raise InputError("the 33 bytes are not a point on secp256k1") from None
    return public_key


def pubkey_hash160(public_key: bytes) -> bytes:
    """RIPEMD-160(SHA-256(compressed key)): the 20 bytes every Cosmos secp256k1 account is named by."""
    check_compressed_pubkey(public_key)
    from Crypto.Hash import RIPEMD160  # here: its cffi layer costs start-up that v3 commands need not pay

    return RIPEMD160.new(hashlib.sha256(public_key).digest()).digest()


def address_from_hash(account_hash: bytes, hrp: str = DYDX_HRP) -> str:
    if len(account_hash) not in (ACCOUNT_HASH_LENGTH, MODULE_HASH_LENGTH):
        raise InputError("an account hash is 20 (or, for module accounts, 32) bytes")
    return bech32.encode(hrp, account_hash)


def address_from_pubkey(public_key: bytes, hrp: str = DYDX_HRP) -> str:
    return _address_from_pubkey(bytes(public_key), hrp)


@lru_cache(maxsize=4096)
def _address_from_pubkey(public_key: bytes, hrp: str) -> str:
    """Cached: a v4 batch names each account's addresses when it derives them and again when its payload's
    body is validated (public data: a public key and its address)."""
    return address_from_hash(pubkey_hash160(public_key), hrp)


def dydx_address(public_key: bytes) -> str:
    return address_from_pubkey(public_key, DYDX_HRP)


def noble_address(public_key: bytes) -> str:
    return address_from_pubkey(public_key, NOBLE_HRP)


def parse_address(address: str, hrp: str = DYDX_HRP) -> bytes:
    """The account hash of ``address``; refuses another prefix, a bad checksum, upper case, odd lengths."""
    if not isinstance(address, str):
        raise FormatError("an address must be a string")
    if address != address.lower():
        raise FormatError(f"address {address!r} is not in lowercase, the only form this toolkit accepts")
    _, account_hash = bech32.decode(address, expected_hrp=hrp)
    if len(account_hash) not in (ACCOUNT_HASH_LENGTH, MODULE_HASH_LENGTH):
        raise FormatError(f"address {address!r} carries {len(account_hash)} bytes, not 20 or 32")
    return account_hash


def is_address(address: object, hrp: str = DYDX_HRP) -> bool:
    if not isinstance(address, str):
        return False
    try:
        parse_address(address, hrp)
    except FormatError:
        return False
    return True


def check_address(address: str, hrp: str = DYDX_HRP) -> str:
    """``address`` itself if it parses under ``hrp``: for validating fields in place."""
    parse_address(address, hrp)
    return address


def same_account(address: str, public_key: bytes, hrp: str = DYDX_HRP) -> bool:
    """Whether ``address`` is the account of ``public_key`` (the signer check of every message)."""
    return parse_address(address, hrp) == pubkey_hash160(public_key)
