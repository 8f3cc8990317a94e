"""EIP-1559 (type 2) Ethereum transactions: fields, signing hash, raw encoding and strict decoding.

The cold signer receives the unsigned fields, shows them, signs ``signing_hash()`` with its key and returns
the raw transaction; the relay decodes that raw transaction again, recovers the sender and broadcasts it.
Both directions are strict: a field with a leading zero, a high-s or ``v`` other than 0/1 signature, a
legacy or other typed transaction, or any trailing byte is refused rather than "fixed up".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import coincurve

from dydx_airgap.shared.errors import FormatError, SignatureError
from dydx_airgap.shared.ethereum import rlp
from dydx_airgap.shared.ethereum.address import to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256

TRANSACTION_TYPE = 0x02

# Order of the secp256k1 group; a canonical (EIP-2) signature has s <= n / 2.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2

_UINT64_MAX = 2**64 - 1
_UINT256_BITS = 256


@dataclass(frozen=True)
class AccessListEntry:
    """One EIP-2930 access-list entry: an address and the storage slots it pre-warms."""

    address: bytes
    storage_keys: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.address) != 20:
            raise FormatError("an access-list address is 20 bytes")
        if any(len(key) != 32 for key in self.storage_keys):
            raise FormatError("an access-list storage key is 32 bytes")


@dataclass(frozen=True)
class Eip1559Transaction:
    """The unsigned fields of a type-2 transaction. ``to`` is None for a contract creation."""

    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas_limit: int
    to: bytes | None
    value: int
    data: bytes = b""
    access_list: tuple[AccessListEntry, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("chain_id", "max_priority_fee_per_gas", "max_fee_per_gas", "value"):
            _check_uint(name, getattr(self, name), _UINT256_BITS)
        # EIP-2681 caps the nonce below 2^64 - 1; the gas limit is a uint64 in every client.
        _check_uint("nonce", self.nonce, 64)
        if self.nonce == _UINT64_MAX:
            raise FormatError("nonce must be below 2^64 - 1 (EIP-2681)")
        _check_uint("gas_limit", self.gas_limit, 64)
        if self.chain_id == 0:
            raise FormatError("chain_id 0 is not replay-protected: give the network's chain id")
        if self.to is not None and (not isinstance(self.to, bytes) or len(self.to) != 20):
            raise FormatError("'to' must be 20 bytes, or None for a contract creation")
        if not isinstance(self.data, bytes):
            raise FormatError("data must be bytes")

    @property
    def to_address(self) -> str | None:
        """The recipient in EIP-55 form, as a review screen shows it."""
        return None if self.to is None else to_checksum_address(self.to)

    def _rlp_fields(self) -> list[rlp.RlpItem]:
        return [
            rlp.encode_uint(self.chain_id),
            rlp.encode_uint(self.nonce),
            rlp.encode_uint(self.max_priority_fee_per_gas),
            rlp.encode_uint(self.max_fee_per_gas),
            rlp.encode_uint(self.gas_limit),
            b"" if self.to is None else self.to,
            rlp.encode_uint(self.value),
            self.data,
            [[entry.address, list(entry.storage_keys)] for entry in self.access_list],
        ]

    def signing_payload(self) -> bytes:
        """``0x02 ‖ rlp([chain_id, nonce, ..., access_list])``: what EIP-1559 signs."""
        return bytes([TRANSACTION_TYPE]) + rlp.encode(self._rlp_fields())

    def signing_hash(self) -> bytes:
        """The 32-byte digest the sender's key signs (no EIP-191 prefix: this is not a message)."""
        return keccak256(self.signing_payload())

    def with_signature(self, signature: bytes) -> SignedEip1559Transaction:
        """Attach a 65-byte recoverable signature ``r ‖ s ‖ recovery id`` (coincurve's layout)."""
        if len(signature) != 65:
            raise SignatureError("a recoverable secp256k1 signature is 65 bytes (r ‖ s ‖ recovery id)")
        return SignedEip1559Transaction(
            transaction=self,
            y_parity=signature[64],
            r=int.from_bytes(signature[:32], "big"),
            s=int.from_bytes(signature[32:64], "big"),
        )


@dataclass(frozen=True)
class SignedEip1559Transaction:
    """A type-2 transaction with its signature; ``sender`` is recovered from it, never trusted input."""

    transaction: Eip1559Transaction
    y_parity: int
    r: int
    s: int

    def __post_init__(self) -> None:
        if self.y_parity not in (0, 1):
            raise SignatureError("a type-2 transaction's yParity must be 0 or 1")
        if not 0 < self.r < SECP256K1_N:
            raise SignatureError("signature r is out of range")
        if not 0 < self.s <= _HALF_N:
            # EIP-2: the high-s twin of a valid signature is a second valid encoding; nodes refuse it.
            raise SignatureError("signature s is not in the lower half of the curve order (EIP-2)")

    def raw(self) -> bytes:
        """The bytes ``eth_sendRawTransaction`` takes: ``0x02 ‖ rlp([fields..., yParity, r, s])``."""
        fields = self.transaction._rlp_fields()
        fields += [rlp.encode_uint(self.y_parity), rlp.encode_uint(self.r), rlp.encode_uint(self.s)]
        return bytes([TRANSACTION_TYPE]) + rlp.encode(fields)

    @property
    def tx_hash(self) -> bytes:
        """The transaction hash: keccak256 of the raw bytes."""
        return keccak256(self.raw())

    @functools.cached_property
    def sender(self) -> bytes:
        """The 20-byte address whose key made the signature."""
        recoverable = self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.y_parity])
        try:
            public_key = coincurve.PublicKey.from_signature_and_message(
                recoverable, self.transaction.signing_hash(), hasher=None
            )
        except ValueError as exc:  # coincurve's answer to r that is no curve point, and the like
            raise SignatureError("the transaction signature does not recover to a public key") from exc
        return keccak256(public_key.format(compressed=False)[1:])[12:]

    @property
    def sender_address(self) -> str:
        return to_checksum_address(self.sender)


def decode_signed_transaction(raw: bytes) -> SignedEip1559Transaction:
    """Decode raw bytes from ``eth_sendRawTransaction``/the cold signer; the sender is recoverable."""
    items = _decode_typed_list(raw, 12, "a signed")
    transaction = _transaction_from_items(items[:9])
    signed = SignedEip1559Transaction(
        transaction=transaction,
        y_parity=rlp.decode_uint(_as_bytes(items[9], "yParity"), max_bits=8, what="yParity"),
        r=rlp.decode_uint(_as_bytes(items[10], "r"), what="r"),
        s=rlp.decode_uint(_as_bytes(items[11], "s"), what="s"),
    )
    _ = signed.sender  # refuse now a signature that recovers to nothing
    return signed


def decode_signing_payload(payload: bytes) -> Eip1559Transaction:
    """Decode an unsigned ``0x02 ‖ rlp([9 fields])`` payload, the inverse of ``signing_payload``."""
    return _transaction_from_items(_decode_typed_list(payload, 9, "an unsigned"))


def _decode_typed_list(data: bytes, field_count: int, kind: str) -> list[rlp.RlpItem]:
    if not isinstance(data, bytes) or not data:
        raise FormatError(f"{kind} transaction must be non-empty bytes")
    if data[0] != TRANSACTION_TYPE:
        if data[0] >= 0xC0:
            raise FormatError("this is a legacy (untyped) transaction: only EIP-1559 type 2 is accepted")
        raise FormatError(f"transaction type {data[0]:#04x} is not supported: only EIP-1559 type 2")
    items = rlp.decode(data[1:])
    if not isinstance(items, list) or len(items) != field_count:
        raise FormatError(f"{kind} type-2 transaction is an RLP list of {field_count} fields")
    return items


def _transaction_from_items(items: list[rlp.RlpItem]) -> Eip1559Transaction:
    to_field = _as_bytes(items[5], "to")
    if len(to_field) not in (0, 20):
        raise FormatError("the 'to' field must be 20 bytes or empty")
    return Eip1559Transaction(
        chain_id=rlp.decode_uint(_as_bytes(items[0], "chainId"), what="chainId"),
        nonce=rlp.decode_uint(_as_bytes(items[1], "nonce"), max_bits=64, what="nonce"),
        max_priority_fee_per_gas=rlp.decode_uint(
            _as_bytes(items[2], "maxPriorityFeePerGas"), what="maxPriorityFeePerGas"
        ),
        max_fee_per_gas=rlp.decode_uint(_as_bytes(items[3], "maxFeePerGas"), what="maxFeePerGas"),
        gas_limit=rlp.decode_uint(_as_bytes(items[4], "gasLimit"), max_bits=64, what="gasLimit"),
        to=to_field or None,
        value=rlp.decode_uint(_as_bytes(items[6], "value"), what="value"),
        data=_as_bytes(items[7], "data"),
        access_list=_decode_access_list(items[8]),
    )


def _decode_access_list(item: rlp.RlpItem) -> tuple[AccessListEntry, ...]:
    if not isinstance(item, list):
        raise FormatError("the access list must be an RLP list")
    entries = []
    for entry in item:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
            raise FormatError("an access-list entry is [address, [storage keys]]")
        address = _as_bytes(entry[0], "access-list address")
        keys = tuple(_as_bytes(key, "access-list storage key") for key in entry[1])
        entries.append(AccessListEntry(address=address, storage_keys=keys))
    return tuple(entries)


def _as_bytes(item: rlp.RlpItem, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise FormatError(f"the {what} field must be a byte string, not a list")
    return item


def _check_uint(name: str, value: object, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{name} must be an integer")
    if value < 0 or value.bit_length() > bits:
        raise FormatError(f"{name} must be an unsigned {bits}-bit integer")
