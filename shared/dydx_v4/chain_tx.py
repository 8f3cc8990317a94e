"""Transactions as the dYdX Chain reads them: the owner's, and a hot key's under an authenticator.

``tx.py`` decodes only what the cold owner signs (no extension, the six cold-signable messages, a fee with
gas). The chain accepts more, and whoever checks transactions like the chain (the local stand-in, the
relay's hot-key checks) must read that too, just as strictly:

* ``TxBody.non_critical_extension_options`` (field 2047) holding one
  ``/dydxprotocol.accountplus.TxExtension{selected_authenticators = 1: packed repeated uint64}``: one
  authenticator id per message selects the authenticator path (spec §B8); an empty list keeps the classic
  signature path (v4-client-js always adds one). Critical ``extension_options`` (1023) are refused, as the
  chain refuses options it does not know.
* the CLOB messages of ``clob.py`` beside the cold-signable ones;
* a fee with ``gas_limit`` 0 and no coins (what clients send for short-term orders, which the chain runs on
  free gas).

Still refused: fee payer/granter (not available on dYdX, and the authenticator path forbids a payer other
than the first signer), more than one signer, multisig, a missing public key — a stand-in that does not
model them must not pretend to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dydx_airgap.shared.errors import FormatError, InputError

from . import protobuf as pb
from .clob import ClobMessage, MsgCancelOrder, MsgPlaceOrder, is_short_term
from .coins import Coin, check_coins
from .messages import Message, ProtoAny, from_any, to_any
from .tx import MAX_MEMO_CHARS, SIGNATURE_LENGTH, SignDoc, SignerInfo, TxRaw

TX_EXTENSION_TYPE_URL = "/dydxprotocol.accountplus.TxExtension"

ChainMessage = Message | ClobMessage


def chain_message_from_any(wrapped: ProtoAny) -> ChainMessage:
    """A cold-signable message or a CLOB order message; any other type URL is refused, never skipped."""
    if wrapped.type_url == MsgPlaceOrder.TYPE_URL:
        return MsgPlaceOrder.decode(wrapped.value)
    if wrapped.type_url == MsgCancelOrder.TYPE_URL:
        return MsgCancelOrder.decode(wrapped.value)
    return from_any(wrapped)


def chain_message_to_any(message: ChainMessage) -> ProtoAny:
    if isinstance(message, MsgPlaceOrder | MsgCancelOrder):
        return ProtoAny(message.TYPE_URL, message.encode())
    return to_any(message)


@dataclass(frozen=True)
class TxExtension:
    selected_authenticators: tuple[int, ...] = ()

    SCHEMA: ClassVar[pb.Schema] = {1: pb.FieldSpec(pb.Kind.BYTES, name="selected_authenticators")}

    def __post_init__(self) -> None:
        if not isinstance(self.selected_authenticators, tuple) or any(
            isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= pb.UINT64_MAX
            for i in self.selected_authenticators
        ):
            raise InputError("selected_authenticators is a tuple of uint64 authenticator ids")

    def encode(self) -> bytes:
        return pb.packed_uint64_field(1, self.selected_authenticators)

    @classmethod
    def decode(cls, data: bytes) -> TxExtension:
        f = pb.decode_message(data, cls.SCHEMA, "TxExtension")
        ids = pb.decode_packed_uint64(f.bytes_(1), "TxExtension") if f.has(1) else ()
        value = cls(ids)
        if value.encode() != data:
            raise FormatError("TxExtension: not in canonical encoding")
        return value


@dataclass(frozen=True)
class ChainTxBody:
    messages: tuple[ChainMessage, ...]
    memo: str = ""
    timeout_height: int = 0
    extension: TxExtension | None = None

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="messages"),
        2: pb.FieldSpec(pb.Kind.STRING, name="memo"),
        3: pb.FieldSpec(pb.Kind.UINT64, name="timeout_height"),
        2047: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="non_critical_extension_options"),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple) or not self.messages:
            raise InputError("a transaction needs at least one message (a tuple)")
        # The memo length is the chain's ante check (code 12), not a decoding rule: only its type here.
        if not isinstance(self.memo, str):
            raise InputError("the memo is a string")
        if isinstance(self.timeout_height, bool) or not 0 <= self.timeout_height <= pb.UINT64_MAX:
            raise InputError("timeout_height must be a uint64")

    @property
    def selected_authenticators(self) -> tuple[int, ...]:
        return () if self.extension is None else self.extension.selected_authenticators

    @property
    def memo_too_long(self) -> bool:
        return len(self.memo) > MAX_MEMO_CHARS

    def encode(self) -> bytes:
        messages = b"".join(pb.message_field(1, chain_message_to_any(m).encode()) for m in self.messages)
        out = messages + pb.string_field(2, self.memo) + pb.uint_field(3, self.timeout_height)
        if self.extension is not None:
            out += pb.message_field(2047, ProtoAny(TX_EXTENSION_TYPE_URL, self.extension.encode()).encode())
        return out

    @classmethod
    def decode(cls, data: bytes) -> ChainTxBody:
        f = pb.decode_message(data, cls.SCHEMA, "TxBody")
        messages = tuple(chain_message_from_any(ProtoAny.decode(raw)) for raw in f.repeated_bytes(1))
        options = [ProtoAny.decode(raw) for raw in f.repeated_bytes(2047)]
        if len(options) > 1 or any(o.type_url != TX_EXTENSION_TYPE_URL for o in options):
            raise FormatError(
                f"TxBody: the only non-critical extension option known is {TX_EXTENSION_TYPE_URL}"
            )
        extension = TxExtension.decode(options[0].value) if options else None
        try:
            body = cls(messages, f.string(2), f.uint(3), extension)
        except InputError as exc:
            raise exc if isinstance(exc, FormatError) else FormatError(f"TxBody: {exc.message}") from None
        if body.encode() != data:
            raise FormatError("TxBody: not in canonical encoding")
        return body

    def signers(self) -> tuple[str, ...]:
        seen: list[str] = []
        for message in self.messages:
            if message.signer not in seen:
                seen.append(message.signer)
        return tuple(seen)

    @property
    def skips_sequence(self) -> bool:
        """Only short-term order messages: the chain skips sequence validation and increment (§B7)."""
        return all(is_short_term(m) for m in self.messages)


@dataclass(frozen=True)
class ChainFee:
    amount: tuple[Coin, ...]
    gas_limit: int

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="amount"),
        2: pb.FieldSpec(pb.Kind.UINT64, name="gas_limit"),
        3: pb.FieldSpec(pb.Kind.STRING, name="payer"),
        4: pb.FieldSpec(pb.Kind.STRING, name="granter"),
    }

    def __post_init__(self) -> None:
        check_coins(self.amount, allow_empty=True, what="fee")
        if isinstance(self.gas_limit, bool) or not 0 <= self.gas_limit <= pb.UINT64_MAX:
            raise InputError("gas_limit must be a uint64")

    def encode(self) -> bytes:
        coins = b"".join(pb.message_field(1, c.encode()) for c in self.amount)
        return coins + pb.uint_field(2, self.gas_limit)

    @classmethod
    def decode(cls, data: bytes) -> ChainFee:
        f = pb.decode_message(data, cls.SCHEMA, "Fee")
        if f.has(3) or f.has(4):
            raise FormatError("Fee: a fee payer or granter is not available on dYdX")
        coins = tuple(Coin.decode(raw) for raw in f.repeated_bytes(1))
        try:
            fee = cls(coins, f.uint(2))
        except InputError as exc:
            raise exc if isinstance(exc, FormatError) else FormatError(f"Fee: {exc.message}") from None
        if fee.encode() != data:
            raise FormatError("Fee: not in canonical encoding")
        return fee


@dataclass(frozen=True)
class ChainAuthInfo:
    signer: SignerInfo
    fee: ChainFee

    SCHEMA: ClassVar[pb.Schema] = {
        1: pb.FieldSpec(pb.Kind.MESSAGE, repeated=True, name="signer_infos"),
        2: pb.FieldSpec(pb.Kind.MESSAGE, name="fee"),
    }

    def encode(self) -> bytes:
        return pb.message_field(1, self.signer.encode()) + pb.message_field(2, self.fee.encode())

    @classmethod
    def decode(cls, data: bytes) -> ChainAuthInfo:
        f = pb.decode_message(data, cls.SCHEMA, "AuthInfo")
        infos = f.repeated_bytes(1)
        if len(infos) != 1:
            raise FormatError("AuthInfo: exactly one signer info is supported")
        raw_fee = f.message(2)
        if raw_fee is None:
            raise FormatError("AuthInfo: no fee")
        info = cls(SignerInfo.decode(infos[0]), ChainFee.decode(raw_fee))
        if info.encode() != data:
            raise FormatError("AuthInfo: not in canonical encoding")
        return info


@dataclass(frozen=True)
class ChainTx:
    body: ChainTxBody
    auth_info: ChainAuthInfo
    raw: TxRaw

    @property
    def signature(self) -> bytes:
        return self.raw.signatures[0] if self.raw.signatures else b""

    def sign_doc(self, chain_id: str, account_number: int) -> SignDoc:
        return SignDoc(self.raw.body_bytes, self.raw.auth_info_bytes, chain_id, account_number)


def parse_chain_tx(tx_raw: bytes, *, for_simulation: bool = False) -> ChainTx:
    """Strictly decode a transaction the chain could accept: one signer, one 64-byte signature (for
    simulation the signature may be empty or absent, as clients send it)."""
    raw = TxRaw.decode(tx_raw)
    if for_simulation:
        if len(raw.signatures) > 1:
            raise FormatError("TxRaw: one signer, at most one signature")
    elif len(raw.signatures) != 1 or len(raw.signatures[0]) != SIGNATURE_LENGTH:
        raise FormatError("TxRaw: expected exactly one 64-byte signature")
    body = ChainTxBody.decode(raw.body_bytes)
    auth_info = ChainAuthInfo.decode(raw.auth_info_bytes)
    return ChainTx(body, auth_info, raw)


def encode_chain_tx(body: ChainTxBody, auth_info: ChainAuthInfo, signature: bytes) -> bytes:
    return TxRaw(body.encode(), auth_info.encode(), (signature,)).encode()
