"""Cosmos SDK v0.50 transactions in SIGN_MODE_DIRECT: TxBody, AuthInfo, SignDoc, TxRaw, the tx hash.

The signature covers ``SignDoc{body_bytes, auth_info_bytes, chain_id, account_number}``; body and
auth_info are signed *as bytes*, so the bytes that are broadcast must be those very bytes. The cold side
builds them here and signs; the relay parses the TxRaw it is handed with the same strict decoders and
may only pass it on unchanged.

Scope is the cold owner key's own transactions: one signer, the owner's secp256k1 public key in the
SignerInfo, SIGN_MODE_DIRECT, no extension options, no tip. A body or auth_info outside that scope is
refused on decode rather than half-understood.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import ClassVar

from dydx_airgap.shared.errors import FormatError, InputError

from . import protobuf as pb
from .address import check_compressed_pubkey
from .coins import Coin, check_coins
from .messages import Message, ProtoAny, from_any, to_any

SECP256K1_PUBKEY_TYPE_URL = "/cosmos.crypto.secp256k1.PubKey"
SIGN_MODE_DIRECT = 1
#: The SDK default of x/auth MaxMemoCharacters (dYdX keeps it — spec: unverified, so we stay within it).
MAX_MEMO_CHARS = 256
#: BroadcastMode names as the REST gateway takes them (proto3 JSON of the enum).
BROADCAST_MODES = ("BROADCAST_MODE_SYNC", "BROADCAST_MODE_ASYNC")
SIGNATURE_LENGTH = 64


def _uint64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= pb.UINT64_MAX:
        raise InputError(f"{what} must be a uint64")
    return value


def _as_format_error(what: str, exc: InputError) -> FormatError:
    return exc if isinstance(exc, FormatError) else FormatError(f"{what}: {exc.message}")


# --- TxBody -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TxBody:
    messages: tuple[Message, ...]
    memo: str = ""
    timeout_height: int = 0

    # extension_options (1023) and non_critical_extension_options (2047) are left out on purpose: the cold
    # owner adds none, so a body carrying them is not one of ours.
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="messages"),
        2: pb.FieldSpec(pb.Kind.STRING, name="memo"),
        3: pb.FieldSpec(pb.Kind.UINT64, name="timeout_height"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple) or not self.messages:
            raise InputError("a transaction needs at least one message (a tuple)")
        if not isinstance(self.memo, str) or len(self.memo) > MAX_MEMO_CHARS:
            raise InputError(f"the memo must be a string of at most {MAX_MEMO_CHARS} characters")
        _uint64(self.timeout_height, "timeout_height")

    def encode(self) -> bytes:
        messages = b"".join(pb.message_field(1, to_any(m).encode()) for m in self.messages)
        return messages + pb.string_field(2, self.memo) + pb.uint_field(3, self.timeout_height)

    @classmethod
    def decode(cls, data: bytes) -> TxBody:
        f = pb.decode_message(data, cls.SCHEMA, "TxBody")
        messages = tuple(from_any(ProtoAny.decode(raw)) for raw in f.repeated_bytes(1))
        try:
            body = cls(messages, f.string(2), f.uint(3))
        except InputError as exc:
            raise _as_format_error("TxBody", exc) from None
        if body.encode() != data:
            raise FormatError("TxBody: not in canonical encoding")
        return body

    def signers(self) -> tuple[str, ...]:
        """Distinct required signers in first-seen order (the SDK's GetSigners order)."""
        seen: list[str] = []
        for message in self.messages:
            if message.signer not in seen:
                seen.append(message.signer)
        return tuple(seen)


# --- AuthInfo ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fee:
    amount: tuple[Coin, ...]
    gas_limit: int
    payer: str = ""
    granter: str = ""

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="amount"),
        2: pb.FieldSpec(pb.Kind.UINT64, name="gas_limit"),
        3: pb.FieldSpec(pb.Kind.STRING, name="payer"),
        4: pb.FieldSpec(pb.Kind.STRING, name="granter"),
    }

    def __post_init__(self) -> None:
        check_coins(self.amount, allow_empty=True, what="fee")
        if _uint64(self.gas_limit, "gas_limit") == 0:
            raise InputError("gas_limit must be greater than zero")
        # A payer or granter moves who pays the fee to another account; the cold owner pays its own.
        if self.payer or self.granter:
            raise InputError("fee payer/granter are not supported: the signer pays its own fee")

    def encode(self) -> bytes:
        coins = b"".join(pb.message_field(1, c.encode()) for c in self.amount)
        return (
            coins
            + pb.uint_field(2, self.gas_limit)
            + pb.string_field(3, self.payer)
            + pb.string_field(4, self.granter)
        )

    @classmethod
    def decode(cls, data: bytes) -> Fee:
        f = pb.decode_message(data, cls.SCHEMA, "Fee")
        coins = tuple(Coin.decode(raw) for raw in f.repeated_bytes(1))
        try:
            fee = cls(coins, f.uint(2), f.string(3), f.string(4))
        except InputError as exc:
            raise _as_format_error("Fee", exc) from None
        if fee.encode() != data:
            raise FormatError("Fee: not in canonical encoding")
        return fee


@dataclass(frozen=True)
class SignerInfo:
    """One signer: its secp256k1 public key, SIGN_MODE_DIRECT, and the account sequence it signs at."""

    public_key: bytes
    sequence: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, name="public_key"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="mode_info"),
        3: pb.FieldSpec(pb.Kind.UINT64, name="sequence"),
    }
    _PUBKEY_SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.BYTES, name="key")}
    _MODE_INFO_SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.MESSAGE, name="single")}
    _SINGLE_SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.ENUM, name="mode")}

    def __post_init__(self) -> None:
        check_compressed_pubkey(self.public_key)
        _uint64(self.sequence, "sequence")

    def encode(self) -> bytes:
        pubkey_any = ProtoAny(SECP256K1_PUBKEY_TYPE_URL, pb.bytes_field(1, self.public_key))
        mode_info = pb.message_field(1, pb.uint_field(1, SIGN_MODE_DIRECT))
        return (
            pb.message_field(1, pubkey_any.encode())
            + pb.message_field(2, mode_info)
            + pb.uint_field(3, self.sequence)
        )

    @classmethod
    def decode(cls, data: bytes) -> SignerInfo:
        f = pb.decode_message(data, cls.SCHEMA, "SignerInfo")
        raw_key, raw_mode = f.message(1), f.message(2)
        if raw_key is None:
            raise FormatError("SignerInfo: no public key (this toolkit always includes it)")
        if raw_mode is None:
            raise FormatError("SignerInfo: no mode_info")
        pubkey_any = ProtoAny.decode(raw_key)
        if pubkey_any.type_url != SECP256K1_PUBKEY_TYPE_URL:
            raise FormatError(f"SignerInfo: public key type {pubkey_any.type_url!r} is not secp256k1")
        key = pb.decode_message(pubkey_any.value, cls._PUBKEY_SCHEMA, "PubKey").bytes_(1)
        single = pb.decode_message(raw_mode, cls._MODE_INFO_SCHEMA, "ModeInfo").message(1)
        if single is None:
            raise FormatError("SignerInfo: only ModeInfo.single is supported (no multisig)")
        mode = pb.decode_message(single, cls._SINGLE_SCHEMA, "ModeInfo.Single").uint(1)
        if mode != SIGN_MODE_DIRECT:
            raise FormatError(f"SignerInfo: sign mode {mode} is not SIGN_MODE_DIRECT (1)")
        try:
            info = cls(key, f.uint(3))
        except InputError as exc:
            raise _as_format_error("SignerInfo", exc) from None
        if info.encode() != data:
            raise FormatError("SignerInfo: not in canonical encoding")
        return info


@dataclass(frozen=True)
class AuthInfo:
    signer_infos: tuple[SignerInfo, ...]
    fee: Fee

    # tip (field 3) is deprecated in SDK v0.50 and never set by us: refused as unknown.
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="signer_infos"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="fee"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.signer_infos, tuple) or len(self.signer_infos) != 1:
            raise InputError("exactly one signer (the cold owner key) is supported")
        if not isinstance(self.fee, Fee):
            raise InputError("AuthInfo needs a Fee")

    @property
    def signer(self) -> SignerInfo:
        return self.signer_infos[0]

    def encode(self) -> bytes:
        infos = b"".join(pb.message_field(1, s.encode()) for s in self.signer_infos)
        return infos + pb.message_field(2, self.fee.encode())

    @classmethod
    def decode(cls, data: bytes) -> AuthInfo:
        f = pb.decode_message(data, cls.SCHEMA, "AuthInfo")
        infos = tuple(SignerInfo.decode(raw) for raw in f.repeated_bytes(1))
        raw_fee = f.message(2)
        if raw_fee is None:
            raise FormatError("AuthInfo: no fee")
        try:
            info = cls(infos, Fee.decode(raw_fee))
        except InputError as exc:
            raise _as_format_error("AuthInfo", exc) from None
        if info.encode() != data:
            raise FormatError("AuthInfo: not in canonical encoding")
        return info


# --- SignDoc, TxRaw -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignDoc:
    body_bytes: bytes
    auth_info_bytes: bytes
    chain_id: str
    account_number: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.BYTES, name="body_bytes"),
        2: pb.FieldSpec(pb.Kind.BYTES, name="auth_info_bytes"),
        3: pb.FieldSpec(pb.Kind.STRING, name="chain_id"),
        4: pb.FieldSpec(pb.Kind.UINT64, name="account_number"),
    }

    def __post_init__(self) -> None:
        if not self.chain_id:
            raise InputError("the SignDoc needs a chain id")
        _uint64(self.account_number, "account_number")

    def encode(self) -> bytes:
        """The sign bytes: what SHA-256 and then ECDSA are applied to."""
        return (
            pb.bytes_field(1, self.body_bytes)
            + pb.bytes_field(2, self.auth_info_bytes)
            + pb.string_field(3, self.chain_id)
            + pb.uint_field(4, self.account_number)
        )

    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> SignDoc:
        f = pb.decode_message(data, cls.SCHEMA, "SignDoc")
        try:
            doc = cls(f.bytes_(1), f.bytes_(2), f.string(3), f.uint(4))
        except InputError as exc:
            raise _as_format_error("SignDoc", exc) from None
        if doc.encode() != data:
            raise FormatError("SignDoc: not in canonical encoding")
        return doc


@dataclass(frozen=True)
class TxRaw:
    body_bytes: bytes
    auth_info_bytes: bytes
    signatures: tuple[bytes, ...]

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.BYTES, name="body_bytes"),
        2: pb.FieldSpec(pb.Kind.BYTES, name="auth_info_bytes"),
        3: pb.FieldSpec(pb.Kind.BYTES, repeated=True, name="signatures"),
    }

    def encode(self) -> bytes:
        # Signatures are repeated bytes: each is written even if empty (simulate uses an empty one).
        sigs = b"".join(pb.message_field(3, s) for s in self.signatures)
        return pb.bytes_field(1, self.body_bytes) + pb.bytes_field(2, self.auth_info_bytes) + sigs

    @classmethod
    def decode(cls, data: bytes) -> TxRaw:
        f = pb.decode_message(data, cls.SCHEMA, "TxRaw")
        raw = cls(f.bytes_(1), f.bytes_(2), tuple(f.repeated_bytes(3)))
        if raw.encode() != data:
            raise FormatError("TxRaw: not in canonical encoding")
        return raw


def tx_hash(tx_raw: bytes) -> str:
    """The hash the chain and the REST API name a transaction by: uppercase hex SHA-256 of TxRaw."""
    return hashlib.sha256(tx_raw).hexdigest().upper()


def broadcast_body(tx_raw: bytes, mode: str = "BROADCAST_MODE_SYNC") -> dict[str, str]:
    """JSON body of ``POST /cosmos/tx/v1beta1/txs``."""
    if mode not in BROADCAST_MODES:
        raise InputError(f"broadcast mode must be one of {', '.join(BROADCAST_MODES)}")
    return {"tx_bytes": base64.b64encode(tx_raw).decode("ascii"), "mode": mode}


# --- the whole transaction ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnsignedTx:
    """A body, an auth_info and the chain context: everything the SignDoc binds."""

    body: TxBody
    auth_info: AuthInfo
    chain_id: str
    account_number: int

    def __post_init__(self) -> None:
        # The cold owner's transactions have a single signer: every message must name that one account.
        if len(self.body.signers()) != 1:
            raise InputError("all messages of one transaction must have the same signer")

    @property
    def body_bytes(self) -> bytes:
        return self.body.encode()

    @property
    def auth_info_bytes(self) -> bytes:
        return self.auth_info.encode()

    def sign_doc(self) -> SignDoc:
        return SignDoc(self.body_bytes, self.auth_info_bytes, self.chain_id, self.account_number)

    def tx_raw(self, signature: bytes) -> bytes:
        if len(signature) != SIGNATURE_LENGTH:
            raise InputError("a v4 signature is 64 bytes r‖s")
        return TxRaw(self.body_bytes, self.auth_info_bytes, (signature,)).encode()


@dataclass(frozen=True)
class ParsedTx:
    body: TxBody
    auth_info: AuthInfo
    raw: TxRaw

    @property
    def signature(self) -> bytes:
        return self.raw.signatures[0]

    def sign_doc(self, chain_id: str, account_number: int) -> SignDoc:
        """The SignDoc the signature must be over, with context the tx bytes do not carry."""
        return SignDoc(self.raw.body_bytes, self.raw.auth_info_bytes, chain_id, account_number)


def parse_tx(tx_raw: bytes) -> ParsedTx:
    """Strictly decode a broadcastable transaction of the cold owner (one 64-byte signature)."""
    raw = TxRaw.decode(tx_raw)
    if len(raw.signatures) != 1 or len(raw.signatures[0]) != SIGNATURE_LENGTH:
        raise FormatError("TxRaw: expected exactly one 64-byte signature")
    body = TxBody.decode(raw.body_bytes)
    auth_info = AuthInfo.decode(raw.auth_info_bytes)
    if len(body.signers()) != 1:
        raise FormatError("TxBody: messages name more than one signer")
    return ParsedTx(body, auth_info, raw)
