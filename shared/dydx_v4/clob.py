"""x/clob order messages: MsgPlaceOrder and MsgCancelOrder, as a hot trading key sends them.

The cold owner never signs these (they are not in ``messages.SUPPORTED_TYPE_URLS``); they exist here because
the chain stand-in, and later the relay's hot-key checks, must read them exactly: an authenticator's
SubaccountFilter and ClobPairIdFilter judge their ``order_id``, and a transaction made only of short-term
ones skips the sequence check (spec §B7).

Field numbers (proto/dydxprotocol/clob/order.proto, tx.proto): OrderId{subaccount_id=1, client_id=2:fixed32,
order_flags=3, clob_pair_id=4}; Order{order_id=1, side=2, quantums=3, subticks=4, oneof good_til {
good_til_block=5:uint32, good_til_block_time=6:fixed32}, time_in_force=7, reduce_only=8:bool,
client_metadata=9, condition_type=10, conditional_order_trigger_subticks=11}; MsgPlaceOrder{order=1};
MsgCancelOrder{order_id=1, oneof {good_til_block=2:uint32, good_til_block_time=3:fixed32}}. Newer fields
(TWAP parameters, builder codes, order router) are refused as unknown: a decoder that skipped them would
show a trader an order that is not the one the chain runs.

Construction applies the chain's stateless ValidateBasic rules that matter to a reader (side set, sizes
positive, one good-til kind that matches the order flags); decode goes through the constructor and
re-encodes, so one message has one byte form. A oneof member equal to 0 would be written on the wire even
so; the chain refuses a zero good-til value for every order kind, and so do we, which keeps the form unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dydx_airgap.shared.errors import FormatError, InputError

from . import protobuf as pb
from .messages import JsonObject, SubaccountId

PLACE_ORDER_TYPE_URL = "/dydxprotocol.clob.MsgPlaceOrder"
CANCEL_ORDER_TYPE_URL = "/dydxprotocol.clob.MsgCancelOrder"

#: OrderId.order_flags (x/clob/types/order_id.go): no bit = short-term, 0x20 conditional, 0x40 long-term.
ORDER_FLAGS_SHORT_TERM = 0
ORDER_FLAGS_CONDITIONAL = 32
ORDER_FLAGS_LONG_TERM = 64
_KNOWN_FLAGS = (ORDER_FLAGS_SHORT_TERM, ORDER_FLAGS_CONDITIONAL, ORDER_FLAGS_LONG_TERM)
#: ShortBlockWindow (x/clob/types/constants.go): a short-term order lives at most this many blocks ahead.
SHORT_BLOCK_WINDOW = 40

SIDE_BUY = 1
SIDE_SELL = 2
_SIDES = {SIDE_BUY: "SIDE_BUY", SIDE_SELL: "SIDE_SELL"}
_TIME_IN_FORCE = {
    0: "TIME_IN_FORCE_UNSPECIFIED",
    1: "TIME_IN_FORCE_IOC",
    2: "TIME_IN_FORCE_POST_ONLY",
    3: "TIME_IN_FORCE_FILL_OR_KILL",
}
_CONDITION_TYPES = {
    0: "CONDITION_TYPE_UNSPECIFIED",
    1: "CONDITION_TYPE_STOP_LOSS",
    2: "CONDITION_TYPE_TAKE_PROFIT",
}


def _uint(value: int, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise InputError(f"{what} must be an integer between 0 and 2**{bits}-1")
    return value


def _canonical(what: str, data: bytes, encoded: bytes) -> None:
    if encoded != data:
        raise FormatError(f"{what}: not in canonical encoding")


def _good_til(flags: int, good_til_block: int, good_til_block_time: int, what: str) -> None:
    _uint(good_til_block, 32, f"{what} good_til_block")
    _uint(good_til_block_time, 32, f"{what} good_til_block_time")
    if bool(good_til_block) == bool(good_til_block_time):
        raise InputError(f"{what} needs exactly one of good_til_block and good_til_block_time, non-zero")
    if flags == ORDER_FLAGS_SHORT_TERM and not good_til_block:
        raise InputError(f"a short-term {what} uses good_til_block")
    if flags != ORDER_FLAGS_SHORT_TERM and not good_til_block_time:
        raise InputError(f"a stateful {what} uses good_til_block_time")


@dataclass(frozen=True)
class OrderId:
    subaccount_id: SubaccountId
    client_id: int
    order_flags: int
    clob_pair_id: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, name="subaccount_id"),
        2: pb.FieldSpec(pb.Kind.FIXED32, name="client_id"),
        3: pb.FieldSpec(pb.Kind.UINT32, name="order_flags"),
        4: pb.FieldSpec(pb.Kind.UINT32, name="clob_pair_id"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.subaccount_id, SubaccountId):
            raise InputError("an order id names a SubaccountId")
        _uint(self.client_id, 32, "client_id")
        _uint(self.clob_pair_id, 32, "clob_pair_id")
        if _uint(self.order_flags, 32, "order_flags") not in _KNOWN_FLAGS:
            raise InputError(
                f"order_flags {self.order_flags} is not short-term (0), conditional (32) or long-term (64)"
            )

    @property
    def is_short_term(self) -> bool:
        return self.order_flags == ORDER_FLAGS_SHORT_TERM

    def encode(self) -> bytes:
        return (
            pb.message_field(1, self.subaccount_id.encode())
            + pb.fixed32_field(2, self.client_id)
            + pb.uint_field(3, self.order_flags, bits=32)
            + pb.uint_field(4, self.clob_pair_id, bits=32)
        )

    @classmethod
    def decode(cls, data: bytes) -> OrderId:
        f = pb.decode_message(data, cls.SCHEMA, "OrderId")
        raw = f.message(1)
        if raw is None:
            raise FormatError("OrderId: subaccount_id is missing")
        try:
            value = cls(SubaccountId.decode(raw), f.uint(2), f.uint(3), f.uint(4))
        except InputError as exc:
            raise exc if isinstance(exc, FormatError) else FormatError(f"OrderId: {exc.message}") from None
        _canonical("OrderId", data, value.encode())
        return value

    def to_proto3_json(self) -> JsonObject:
        return {
            "subaccount_id": self.subaccount_id.to_proto3_json(),
            "client_id": self.client_id,
            "order_flags": self.order_flags,
            "clob_pair_id": self.clob_pair_id,
        }


@dataclass(frozen=True)
class Order:
    order_id: OrderId
    side: int
    quantums: int
    subticks: int
    good_til_block: int = 0
    good_til_block_time: int = 0
    time_in_force: int = 0
    reduce_only: bool = False
    client_metadata: int = 0
    condition_type: int = 0
    conditional_order_trigger_subticks: int = 0

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, name="order_id"),
        2: pb.FieldSpec(pb.Kind.ENUM, name="side"),
        3: pb.FieldSpec(pb.Kind.UINT64, name="quantums"),
        4: pb.FieldSpec(pb.Kind.UINT64, name="subticks"),
        5: pb.FieldSpec(pb.Kind.UINT32, name="good_til_block"),
        6: pb.FieldSpec(pb.Kind.FIXED32, name="good_til_block_time"),
        7: pb.FieldSpec(pb.Kind.ENUM, name="time_in_force"),
        8: pb.FieldSpec(pb.Kind.UINT32, name="reduce_only"),
        9: pb.FieldSpec(pb.Kind.UINT32, name="client_metadata"),
        10: pb.FieldSpec(pb.Kind.ENUM, name="condition_type"),
        11: pb.FieldSpec(pb.Kind.UINT64, name="conditional_order_trigger_subticks"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.order_id, OrderId):
            raise InputError("an order carries an OrderId")
        if self.side not in _SIDES:
            raise InputError("order side must be SIDE_BUY (1) or SIDE_SELL (2)")
        if _uint(self.quantums, 64, "quantums") == 0 or _uint(self.subticks, 64, "subticks") == 0:
            raise InputError("an order's quantums and subticks must be greater than zero")
        _good_til(self.order_id.order_flags, self.good_til_block, self.good_til_block_time, "order")
        if self.time_in_force not in _TIME_IN_FORCE or self.condition_type not in _CONDITION_TYPES:
            raise InputError("unknown time_in_force or condition_type")
        if not isinstance(self.reduce_only, bool):
            raise InputError("reduce_only is a bool")
        _uint(self.client_metadata, 32, "client_metadata")
        _uint(self.conditional_order_trigger_subticks, 64, "conditional_order_trigger_subticks")
        conditional = self.order_id.order_flags == ORDER_FLAGS_CONDITIONAL
        if conditional != (self.condition_type != 0) or conditional != (
            self.conditional_order_trigger_subticks != 0
        ):
            raise InputError("condition type and trigger price are set exactly for conditional orders")

    def encode(self) -> bytes:
        return (
            pb.message_field(1, self.order_id.encode())
            + pb.uint_field(2, self.side, bits=32)
            + pb.uint_field(3, self.quantums)
            + pb.uint_field(4, self.subticks)
            + pb.uint_field(5, self.good_til_block, bits=32)
            + pb.fixed32_field(6, self.good_til_block_time)
            + pb.uint_field(7, self.time_in_force, bits=32)
            + pb.uint_field(8, int(self.reduce_only), bits=1)
            + pb.uint_field(9, self.client_metadata, bits=32)
            + pb.uint_field(10, self.condition_type, bits=32)
            + pb.uint_field(11, self.conditional_order_trigger_subticks)
        )

    @classmethod
    def decode(cls, data: bytes) -> Order:
        f = pb.decode_message(data, cls.SCHEMA, "Order")
        raw = f.message(1)
        if raw is None:
            raise FormatError("Order: order_id is missing")
        order_id = OrderId.decode(raw)
        if f.uint(8) > 1:
            raise FormatError("Order: reduce_only is a bool (0 or 1)")
        try:
            value = cls(
                order_id,
                f.uint(2),
                f.uint(3),
                f.uint(4),
                f.uint(5),
                f.uint(6),
                f.uint(7),
                bool(f.uint(8)),
                f.uint(9),
                f.uint(10),
                f.uint(11),
            )
        except InputError as exc:
            raise exc if isinstance(exc, FormatError) else FormatError(f"Order: {exc.message}") from None
        _canonical("Order", data, value.encode())
        return value

    def to_proto3_json(self) -> JsonObject:
        body: JsonObject = {
            "order_id": self.order_id.to_proto3_json(),
            "side": _SIDES[self.side],
            "quantums": str(self.quantums),
            "subticks": str(self.subticks),
        }
        if self.good_til_block:
            body["good_til_block"] = self.good_til_block
        else:
            body["good_til_block_time"] = self.good_til_block_time
        body.update(
            {
                "time_in_force": _TIME_IN_FORCE[self.time_in_force],
                "reduce_only": self.reduce_only,
                "client_metadata": self.client_metadata,
                "condition_type": _CONDITION_TYPES[self.condition_type],
                "conditional_order_trigger_subticks": str(self.conditional_order_trigger_subticks),
            }
        )
        return body


@dataclass(frozen=True)
class MsgPlaceOrder:
    order: Order

    TYPE_URL: ClassVar[str] = PLACE_ORDER_TYPE_URL
    SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.MESSAGE, name="order")}

    def __post_init__(self) -> None:
        if not isinstance(self.order, Order):
            raise InputError("MsgPlaceOrder carries an Order")

    @property
    def signer(self) -> str:
        return self.order.order_id.subaccount_id.owner

    @property
    def order_id(self) -> OrderId:
        return self.order.order_id

    @property
    def good_til_block(self) -> int:
        return self.order.good_til_block

    def encode(self) -> bytes:
        return pb.message_field(1, self.order.encode())

    @classmethod
    def decode(cls, data: bytes) -> MsgPlaceOrder:
        f = pb.decode_message(data, cls.SCHEMA, "MsgPlaceOrder")
        raw = f.message(1)
        if raw is None:
            raise FormatError("MsgPlaceOrder: order is missing")
        value = cls(Order.decode(raw))
        _canonical("MsgPlaceOrder", data, value.encode())
        return value

    def to_proto3_json(self) -> JsonObject:
        return {"@type": self.TYPE_URL, "order": self.order.to_proto3_json()}


@dataclass(frozen=True)
class MsgCancelOrder:
    order_id: OrderId
    good_til_block: int = 0
    good_til_block_time: int = 0

    TYPE_URL: ClassVar[str] = CANCEL_ORDER_TYPE_URL
    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, name="order_id"),
        2: pb.FieldSpec(pb.Kind.UINT32, name="good_til_block"),
        3: pb.FieldSpec(pb.Kind.FIXED32, name="good_til_block_time"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.order_id, OrderId):
            raise InputError("MsgCancelOrder names an OrderId")
        _good_til(self.order_id.order_flags, self.good_til_block, self.good_til_block_time, "cancel")

    @property
    def signer(self) -> str:
        return self.order_id.subaccount_id.owner

    def encode(self) -> bytes:
        return (
            pb.message_field(1, self.order_id.encode())
            + pb.uint_field(2, self.good_til_block, bits=32)
            + pb.fixed32_field(3, self.good_til_block_time)
        )

    @classmethod
    def decode(cls, data: bytes) -> MsgCancelOrder:
        f = pb.decode_message(data, cls.SCHEMA, "MsgCancelOrder")
        raw = f.message(1)
        if raw is None:
            raise FormatError("MsgCancelOrder: order_id is missing")
        order_id = OrderId.decode(raw)
        try:
            value = cls(order_id, f.uint(2), f.uint(3))
        except InputError as exc:
            raise (
                exc if isinstance(exc, FormatError) else FormatError(f"MsgCancelOrder: {exc.message}")
            ) from None
        _canonical("MsgCancelOrder", data, value.encode())
        return value

    def to_proto3_json(self) -> JsonObject:
        body: JsonObject = {"@type": self.TYPE_URL, "order_id": self.order_id.to_proto3_json()}
        if self.good_til_block:
            body["good_til_block"] = self.good_til_block
        else:
            body["good_til_block_time"] = self.good_til_block_time
        return body


ClobMessage = MsgPlaceOrder | MsgCancelOrder


def is_short_term(message: object) -> bool:
    """A message that uses good-til-block for replay protection (it skips the sequence, spec §B7)."""
    return isinstance(message, MsgPlaceOrder | MsgCancelOrder) and message.order_id.is_short_term
