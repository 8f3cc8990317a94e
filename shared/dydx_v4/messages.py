"""The messages a cold v4 owner key signs (spec §B3), as typed values with exact wire encodings.

Each class knows its type URL, its protobuf encoding (wrapped in ``ProtoAny`` for a TxBody), a strict
decoder, the address that must sign it, and the protobuf-JSON view a review screen can show. Values are
validated on construction with the chain's ValidateBasic rules, so an object that exists is one the chain
would accept for execution; decoding goes through the same constructor, and then re-encodes and compares,
so a decoded message has exactly one byte form — the one the reviewer's fields describe.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from dydx_airgap.shared.errors import FormatError, InputError

from . import protobuf as pb
from .address import check_address
from .coins import Coin, check_coins

#: Highest subaccount number the chain allows (x/subaccounts MaxSubaccountIdNumber).
MAX_SUBACCOUNT_NUMBER = 128_000
#: The only asset x/sending moves: USDC, asset id 0.
USDC_ASSET_ID = 0
#: AUTHENTICATOR_DATA_MAX_LENGTH of x/accountplus.
MAX_AUTHENTICATOR_DATA = 1024

JsonObject = dict[str, object]
_T = TypeVar("_T")


def _uint(value: int, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise InputError(f"{what} must be an integer between 0 and 2**{bits}-1")
    return value


def _positive_quantums(value: int, what: str) -> int:
    if _uint(value, 64, what) == 0:
        raise InputError(f"{what} must be greater than zero")
    return value


def _usdc_only(asset_id: int) -> None:
    if _uint(asset_id, 32, "asset_id") != USDC_ASSET_ID:
        raise InputError(f"asset_id {asset_id}: x/sending moves only USDC (asset id 0)")


def _strict(cls_name: str, data: bytes, build: Callable[[], _T], encode: Callable[[_T], bytes]) -> _T:
    """Construct from decoded fields; turn validation failures into FormatError; insist on one byte form."""
    try:
        value = build()
    except InputError as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"{cls_name}: {exc.message}") from None
    if encode(value) != data:
        raise FormatError(f"{cls_name}: not in canonical encoding")
    return value


# --- building blocks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtoAny:
    """``google.protobuf.Any``: the type URL says how to read ``value``."""

    type_url: str
    value: bytes

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="type_url"),
        2: pb.FieldSpec(pb.Kind.BYTES, name="value"),
    }

    def encode(self) -> bytes:
        return pb.string_field(1, self.type_url) + pb.bytes_field(2, self.value)

    @classmethod
    def decode(cls, data: bytes) -> ProtoAny:
        fields = pb.decode_message(data, cls.SCHEMA, "Any")
        if not fields.has(1):
            raise FormatError("Any: no type URL")
        return _strict("Any", data, lambda: cls(fields.string(1), fields.bytes_(2)), cls.encode)


@dataclass(frozen=True)
class SubaccountId:
    owner: str
    number: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="owner"),
        2: pb.FieldSpec(pb.Kind.UINT32, name="number"),
    }

    def __post_init__(self) -> None:
        check_address(self.owner)
        if _uint(self.number, 32, "subaccount number") > MAX_SUBACCOUNT_NUMBER:
            raise InputError(f"subaccount number {self.number} is above {MAX_SUBACCOUNT_NUMBER}")

    def encode(self) -> bytes:
        return pb.string_field(1, self.owner) + pb.uint_field(2, self.number, bits=32)

    @classmethod
    def decode(cls, data: bytes) -> SubaccountId:
        fields = pb.decode_message(data, cls.SCHEMA, "SubaccountId")
        return _strict("SubaccountId", data, lambda: cls(fields.string(1), fields.uint(2)), cls.encode)

    def to_proto3_json(self) -> JsonObject:
        return {"owner": self.owner, "number": self.number}


def _required_message(fields: pb.Decoded, number: int, what: str) -> bytes:
    raw = fields.message(number)
    if raw is None:
        raise FormatError(f"{fields.what}: {what} is missing")
    return raw


# --- x/accountplus ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MsgAddAuthenticator:
    """Register an authenticator (a rule tree, see ``authenticators.py``) on the sender's account."""

    sender: str
    authenticator_type: str
    data: bytes

    TYPE_URL: ClassVar[str] = "/dydxprotocol.accountplus.MsgAddAuthenticator"
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="sender"),
        2: pb.FieldSpec(pb.Kind.STRING, name="authenticator_type"),
        3: pb.FieldSpec(pb.Kind.BYTES, name="data"),
    }

    def __post_init__(self) -> None:
        check_address(self.sender)
        if not isinstance(self.authenticator_type, str) or not self.authenticator_type:
            raise InputError("authenticator_type must be a non-empty string")
        if not isinstance(self.data, bytes) or not self.data:
            raise InputError("authenticator data must be non-empty bytes")
        if len(self.data) > MAX_AUTHENTICATOR_DATA:
            raise InputError(f"authenticator data is {len(self.data)} bytes, over {MAX_AUTHENTICATOR_DATA}")

    @property
    def signer(self) -> str:
        return self.sender

    def encode(self) -> bytes:
        return (
            pb.string_field(1, self.sender)
            + pb.string_field(2, self.authenticator_type)
            + pb.bytes_field(3, self.data)
        )

    @classmethod
    def decode(cls, data: bytes) -> MsgAddAuthenticator:
        f = pb.decode_message(data, cls.SCHEMA, "MsgAddAuthenticator")
        return _strict(
            "MsgAddAuthenticator", data, lambda: cls(f.string(1), f.string(2), f.bytes_(3)), cls.encode
        )

    def to_proto3_json(self) -> JsonObject:
        return {
            "@type": self.TYPE_URL,
            "sender": self.sender,
            "authenticator_type": self.authenticator_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass(frozen=True)
class MsgRemoveAuthenticator:
    sender: str
    id: int

    TYPE_URL: ClassVar[str] = "/dydxprotocol.accountplus.MsgRemoveAuthenticator"
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="sender"),
        2: pb.FieldSpec(pb.Kind.UINT64, name="id"),
    }

    def __post_init__(self) -> None:
        check_address(self.sender)
        _uint(self.id, 64, "authenticator id")

    @property
    def signer(self) -> str:
        return self.sender

    def encode(self) -> bytes:
        return pb.string_field(1, self.sender) + pb.uint_field(2, self.id)

    @classmethod
    def decode(cls, data: bytes) -> MsgRemoveAuthenticator:
        f = pb.decode_message(data, cls.SCHEMA, "MsgRemoveAuthenticator")
        return _strict("MsgRemoveAuthenticator", data, lambda: cls(f.string(1), f.uint(2)), cls.encode)

    def to_proto3_json(self) -> JsonObject:
        return {"@type": self.TYPE_URL, "sender": self.sender, "id": str(self.id)}


# --- x/sending --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MsgDepositToSubaccount:
    """Bank balance of ``sender`` → subaccount ``recipient`` (any owner)."""

    sender: str
    recipient: SubaccountId
    asset_id: int
    quantums: int

    TYPE_URL: ClassVar[str] = "/dydxprotocol.sending.MsgDepositToSubaccount"
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="sender"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="recipient"),
        3: pb.FieldSpec(pb.Kind.UINT32, name="asset_id"),
        4: pb.FieldSpec(pb.Kind.UINT64, name="quantums"),
    }

    def __post_init__(self) -> None:
        check_address(self.sender)
        if not isinstance(self.recipient, SubaccountId):
            raise InputError("recipient must be a SubaccountId")
        _usdc_only(self.asset_id)
        _positive_quantums(self.quantums, "quantums")

    @property
    def signer(self) -> str:
        return self.sender

    def encode(self) -> bytes:
        return (
            pb.string_field(1, self.sender)
            + pb.message_field(2, self.recipient.encode())
            + pb.uint_field(3, self.asset_id, bits=32)
            + pb.uint_field(4, self.quantums)
        )

    @classmethod
    def decode(cls, data: bytes) -> MsgDepositToSubaccount:
        f = pb.decode_message(data, cls.SCHEMA, "MsgDepositToSubaccount")
        recipient = SubaccountId.decode(_required_message(f, 2, "recipient"))
        return _strict(
            "MsgDepositToSubaccount",
            data,
            lambda: cls(f.string(1), recipient, f.uint(3), f.uint(4)),
            cls.encode,
        )

    def to_proto3_json(self) -> JsonObject:
        return {
            "@type": self.TYPE_URL,
            "sender": self.sender,
            "recipient": self.recipient.to_proto3_json(),
            "asset_id": self.asset_id,
            "quantums": str(self.quantums),
        }


@dataclass(frozen=True)
class MsgWithdrawFromSubaccount:
    """Subaccount ``sender`` → bank balance of ``recipient``, which may be *any* address: show it."""

    sender: SubaccountId
    recipient: str
    asset_id: int
    quantums: int

    TYPE_URL: ClassVar[str] = "/dydxprotocol.sending.MsgWithdrawFromSubaccount"
    # Field 1 is the recipient and field 2 the sender here, the reverse of the deposit (spec §B3).
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="recipient"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="sender"),
        3: pb.FieldSpec(pb.Kind.UINT32, name="asset_id"),
        4: pb.FieldSpec(pb.Kind.UINT64, name="quantums"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.sender, SubaccountId):
            raise InputError("sender must be a SubaccountId")
        check_address(self.recipient)
        _usdc_only(self.asset_id)
        _positive_quantums(self.quantums, "quantums")

    @property
    def signer(self) -> str:
        return self.sender.owner

    def encode(self) -> bytes:
        return (
            pb.string_field(1, self.recipient)
            + pb.message_field(2, self.sender.encode())
            + pb.uint_field(3, self.asset_id, bits=32)
            + pb.uint_field(4, self.quantums)
        )

    @classmethod
    def decode(cls, data: bytes) -> MsgWithdrawFromSubaccount:
        f = pb.decode_message(data, cls.SCHEMA, "MsgWithdrawFromSubaccount")
        sender = SubaccountId.decode(_required_message(f, 2, "sender"))
        return _strict(
            "MsgWithdrawFromSubaccount",
            data,
            lambda: cls(sender, f.string(1), f.uint(3), f.uint(4)),
            cls.encode,
        )

    def to_proto3_json(self) -> JsonObject:
        return {
            "@type": self.TYPE_URL,
            "sender": self.sender.to_proto3_json(),
            "recipient": self.recipient,
            "asset_id": self.asset_id,
            "quantums": str(self.quantums),
        }


@dataclass(frozen=True)
class Transfer:
    sender: SubaccountId
    recipient: SubaccountId
    asset_id: int
    amount: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, name="sender"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="recipient"),
        3: pb.FieldSpec(pb.Kind.UINT32, name="asset_id"),
        4: pb.FieldSpec(pb.Kind.UINT64, name="amount"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.sender, SubaccountId) or not isinstance(self.recipient, SubaccountId):
            raise InputError("a transfer's sender and recipient are SubaccountIds")
        _usdc_only(self.asset_id)
        _positive_quantums(self.amount, "amount")

    def encode(self) -> bytes:
        return (
            pb.message_field(1, self.sender.encode())
            + pb.message_field(2, self.recipient.encode())
            + pb.uint_field(3, self.asset_id, bits=32)
            + pb.uint_field(4, self.amount)
        )

    @classmethod
    def decode(cls, data: bytes) -> Transfer:
        f = pb.decode_message(data, cls.SCHEMA, "Transfer")
        sender = SubaccountId.decode(_required_message(f, 1, "sender"))
        recipient = SubaccountId.decode(_required_message(f, 2, "recipient"))
        return _strict("Transfer", data, lambda: cls(sender, recipient, f.uint(3), f.uint(4)), cls.encode)

    def to_proto3_json(self) -> JsonObject:
        return {
            "sender": self.sender.to_proto3_json(),
            "recipient": self.recipient.to_proto3_json(),
            "asset_id": self.asset_id,
            "amount": str(self.amount),
        }


@dataclass(frozen=True)
class MsgCreateTransfer:
    """Subaccount → subaccount; the recipient may belong to anyone."""

    transfer: Transfer

    TYPE_URL: ClassVar[str] = "/dydxprotocol.sending.MsgCreateTransfer"
    SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.MESSAGE, name="transfer")}

    def __post_init__(self) -> None:
        if not isinstance(self.transfer, Transfer):
            raise InputError("MsgCreateTransfer carries a Transfer")

    @property
    def signer(self) -> str:
        return self.transfer.sender.owner

    def encode(self) -> bytes:
        return pb.message_field(1, self.transfer.encode())

    @classmethod
    def decode(cls, data: bytes) -> MsgCreateTransfer:
        f = pb.decode_message(data, cls.SCHEMA, "MsgCreateTransfer")
        transfer = Transfer.decode(_required_message(f, 1, "transfer"))
        return _strict("MsgCreateTransfer", data, lambda: cls(transfer), cls.encode)

    def to_proto3_json(self) -> JsonObject:
        return {"@type": self.TYPE_URL, "transfer": self.transfer.to_proto3_json()}


# --- x/bank -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MsgSend:
    from_address: str
    to_address: str
    amount: tuple[Coin, ...]

    TYPE_URL: ClassVar[str] = "/cosmos.bank.v1beta1.MsgSend"
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.STRING, name="from_address"),
        2: pb.FieldSpec(pb.Kind.STRING, name="to_address"),
        3: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="amount"),
    }

    def __post_init__(self) -> None:
        check_address(self.from_address)
        check_address(self.to_address)
        check_coins(self.amount, allow_empty=False, what="MsgSend amount")

    @property
    def signer(self) -> str:
        return self.from_address

    def encode(self) -> bytes:
        coins = b"".join(pb.message_field(3, c.encode()) for c in self.amount)
        return pb.string_field(1, self.from_address) + pb.string_field(2, self.to_address) + coins

    @classmethod
    def decode(cls, data: bytes) -> MsgSend:
        f = pb.decode_message(data, cls.SCHEMA, "MsgSend")
        coins = tuple(Coin.decode(raw) for raw in f.repeated_bytes(3))
        return _strict("MsgSend", data, lambda: cls(f.string(1), f.string(2), coins), cls.encode)

    def to_proto3_json(self) -> JsonObject:
        return {
            "@type": self.TYPE_URL,
            "from_address": self.from_address,
            "to_address": self.to_address,
            "amount": [c.to_proto3_json() for c in self.amount],
        }


# --- dispatch ---------------------------------------------------------------------------------------------

Message = (
    MsgAddAuthenticator
    | MsgRemoveAuthenticator
    | MsgDepositToSubaccount
    | MsgWithdrawFromSubaccount
    | MsgCreateTransfer
    | MsgSend
)

_DECODERS: dict[str, Callable[[bytes], Message]] = {
    MsgAddAuthenticator.TYPE_URL: MsgAddAuthenticator.decode,
    MsgRemoveAuthenticator.TYPE_URL: MsgRemoveAuthenticator.decode,
    MsgDepositToSubaccount.TYPE_URL: MsgDepositToSubaccount.decode,
    MsgWithdrawFromSubaccount.TYPE_URL: MsgWithdrawFromSubaccount.decode,
    MsgCreateTransfer.TYPE_URL: MsgCreateTransfer.decode,
    MsgSend.TYPE_URL: MsgSend.decode,
}

#: The type URLs this toolkit can build, review and sign — and nothing else.
SUPPORTED_TYPE_URLS = frozenset(_DECODERS)


def to_any(message: Message) -> ProtoAny:
    return ProtoAny(message.TYPE_URL, message.encode())


def from_any(wrapped: ProtoAny) -> Message:
    """The typed message inside ``wrapped``; an unsupported type URL is refused, never skipped."""
    decoder = _DECODERS.get(wrapped.type_url)
    if decoder is None:
        raise FormatError(f"message type {wrapped.type_url!r} is not one this toolkit signs")
    return decoder(wrapped.value)
