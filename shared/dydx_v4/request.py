"""A v4 transaction request as JSON fields, and the unsigned transaction those fields describe.

The relay asks the cold machine to sign by sending *fields* (chain id, account number, sequence, messages by
proto field name, fee, gas limit, timeout height, memo), never bytes: the cold side builds the body and
auth_info bytes itself with our encoder, so the review it shows is of what it will sign. The shape is the
``request`` of the kit's ``dydx-v4.json`` vectors, so every vector request is a valid request here.

Parsing is strict: exact key sets, integers that are JSON integers (never strings or floats), the chain's
ValidateBasic rules through the message constructors. Any failure is a one-line FormatError naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from dydx_airgap.shared.errors import FormatError, InputError

from . import messages as m
from .address import check_address, check_compressed_pubkey, dydx_address
from .coins import Coin
from .networks import network_by_chain_id
from .tx import AuthInfo, Fee, SignerInfo, TxBody, UnsignedTx

REQUEST_FIELDS = frozenset(
    {
        "chain_id",
        "account_number",
        "sequence",
        "signer_address",
        "signer_pubkey",
        "fee",
        "gas_limit",
        "timeout_height",
        "memo",
        "messages",
    }
)
#: How many messages one cold transaction may carry: enough for a batch, few enough to review.
MAX_MESSAGES = 16
_HEX_PUBKEY = re.compile(r"0[23][0-9a-f]{64}")
UINT64_MAX = 2**64 - 1


def _fail(where: str, why: str) -> FormatError:
    return FormatError(f"{where} {why}")


def _keys(value: Any, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be an object")
    extra = set(value) - required - optional
    if extra:
        raise _fail(where, f"has unknown field(s): {', '.join(sorted(extra))[:80]}")
    missing = required - set(value)
    if missing:
        raise _fail(where, f"lacks field(s): {', '.join(sorted(missing))}")


def _int(value: Any, where: str, high: int = UINT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise _fail(where, f"must be a JSON integer from 0 to {high}")
    return value


def _str(value: Any, where: str, max_len: int = 256) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise _fail(where, f"must be a string of at most {max_len} characters")
    return value


def _subaccount(value: Any, where: str) -> m.SubaccountId:
    _keys(value, where, frozenset({"owner", "number"}))
    return m.SubaccountId(
        _str(value["owner"], f"{where}.owner", 128), _int(value["number"], f"{where}.number")
    )


def _coins(value: Any, where: str) -> tuple[Coin, ...]:
    if not isinstance(value, list) or len(value) > 8:
        raise _fail(where, "must be a list of at most 8 coins")
    coins = []
    for i, item in enumerate(value):
        _keys(item, f"{where}[{i}]", frozenset({"denom", "amount"}))
        amount = _str(item["amount"], f"{where}[{i}].amount", 78)
        if not re.fullmatch(r"0|[1-9][0-9]*", amount):
            raise _fail(f"{where}[{i}].amount", "must be a decimal integer string")
        coins.append(Coin(_str(item["denom"], f"{where}[{i}].denom", 128), int(amount)))
    return tuple(coins)


def _authenticator_data(value: Mapping[str, Any], where: str, with_views: bool) -> bytes:
    try:
        data = base64.b64decode(_str(value["data_base64"], f"{where}.data_base64", 2048), validate=True)
    except binascii.Error:
        raise _fail(f"{where}.data_base64", "is not standard base64") from None
    if base64.b64encode(data).decode("ascii") != value["data_base64"]:
        raise _fail(f"{where}.data_base64", "is not canonical padded base64")
    if with_views:
        # The vectors repeat the bytes as hex and as text; each view must be the same bytes.
        if value.get("data_hex", data.hex()) != data.hex():
            raise _fail(f"{where}.data_hex", "differs from data_base64")
        if "data_utf8" in value:
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if value["data_utf8"] != text:
                raise _fail(f"{where}.data_utf8", "differs from data_base64")
    return data


def message_from_fields(entry: Any, where: str, *, with_views: bool = False) -> m.Message:
    """One ``{"type_url", "value"}`` entry as a typed message; any type we do not sign is refused."""
    _keys(entry, where, frozenset({"type_url", "value"}))
    url, v, at = entry["type_url"], entry["value"], f"{where}.value"
    try:
        if url == m.MsgAddAuthenticator.TYPE_URL:
            views = frozenset({"data_hex", "data_utf8"}) if with_views else frozenset()
            _keys(v, at, frozenset({"sender", "authenticator_type", "data_base64"}), views)
            data = _authenticator_data(v, at, with_views)
            return m.MsgAddAuthenticator(
                _str(v["sender"], f"{at}.sender", 128), _str(v["authenticator_type"], f"{at}.type", 64), data
            )
        if url == m.MsgRemoveAuthenticator.TYPE_URL:
            _keys(v, at, frozenset({"sender", "id"}))
            return m.MsgRemoveAuthenticator(_str(v["sender"], f"{at}.sender", 128), _int(v["id"], f"{at}.id"))
        if url == m.MsgDepositToSubaccount.TYPE_URL:
            _keys(v, at, frozenset({"sender", "recipient", "asset_id", "quantums"}))
            return m.MsgDepositToSubaccount(
                _str(v["sender"], f"{at}.sender", 128),
                _subaccount(v["recipient"], f"{at}.recipient"),
                _int(v["asset_id"], f"{at}.asset_id"),
                _int(v["quantums"], f"{at}.quantums"),
            )
        if url == m.MsgWithdrawFromSubaccount.TYPE_URL:
            _keys(v, at, frozenset({"sender", "recipient", "asset_id", "quantums"}))
            return m.MsgWithdrawFromSubaccount(
                _subaccount(v["sender"], f"{at}.sender"),
                _str(v["recipient"], f"{at}.recipient", 128),
                _int(v["asset_id"], f"{at}.asset_id"),
                _int(v["quantums"], f"{at}.quantums"),
            )
        if url == m.MsgCreateTransfer.TYPE_URL:
            _keys(v, at, frozenset({"transfer"}))
            t, tat = v["transfer"], f"{at}.transfer"
            _keys(t, tat, frozenset({"sender", "recipient", "asset_id", "amount"}))
            return m.MsgCreateTransfer(
                m.Transfer(
                    _subaccount(t["sender"], f"{tat}.sender"),
                    _subaccount(t["recipient"], f"{tat}.recipient"),
                    _int(t["asset_id"], f"{tat}.asset_id"),
                    _int(t["amount"], f"{tat}.amount"),
                )
            )
        if url == m.MsgSend.TYPE_URL:
            _keys(v, at, frozenset({"from_address", "to_address", "amount"}))
            return m.MsgSend(
                _str(v["from_address"], f"{at}.from_address", 128),
                _str(v["to_address"], f"{at}.to_address", 128),
                _coins(v["amount"], f"{at}.amount"),
            )
    except FormatError:
        raise
    except InputError as exc:
        raise _fail(where, exc.message) from None
    shown = url[:80] if isinstance(url, str) else type(url).__name__
    raise _fail(f"{where}.type_url", f"{shown!r} is not a message this toolkit signs")


def unsigned_from_fields(request: Any, *, with_views: bool = False) -> UnsignedTx:
    """The unsigned transaction a request describes, after every structural check.

    Checks here are about *well-formedness* (the chain would run it, the fields agree with each other);
    whether the cold operator *should* sign it is the review's job (offline/review/v4_review.py).
    """
    where = "v4 request"
    _keys(request, where, REQUEST_FIELDS)
    chain_id = _str(request["chain_id"], f"{where}.chain_id", 64)
    try:
        network_by_chain_id(chain_id)
        pubkey = bytes.fromhex(_pubkey_hex(request["signer_pubkey"], f"{where}.signer_pubkey"))
        check_compressed_pubkey(pubkey)
        signer = check_address(_str(request["signer_address"], f"{where}.signer_address", 128))
    except FormatError:
        raise
    except InputError as exc:
        raise _fail(where, exc.message) from None
    if dydx_address(pubkey) != signer:
        raise _fail(f"{where}.signer_pubkey", "is not the key of signer_address")
    entries = request["messages"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_MESSAGES:
        raise _fail(f"{where}.messages", f"must be a list of 1 to {MAX_MESSAGES} messages")
    msgs = tuple(
        message_from_fields(e, f"{where}.messages[{i}]", with_views=with_views) for i, e in enumerate(entries)
    )
    for i, msg in enumerate(msgs):
        if msg.signer != signer:
            raise _fail(f"{where}.messages[{i}]", f"is signed by {msg.signer}, not signer_address {signer}")
    fee_fields = request["fee"]
    _keys(fee_fields, f"{where}.fee", frozenset({"amount", "gas_limit"}))
    gas_limit = _int(request["gas_limit"], f"{where}.gas_limit")
    if _int(fee_fields["gas_limit"], f"{where}.fee.gas_limit") != gas_limit:
        raise _fail(f"{where}.gas_limit", "differs from fee.gas_limit")
    try:
        body = TxBody(
            msgs,
            memo=_str(request["memo"], f"{where}.memo", 1024),
            timeout_height=_int(request["timeout_height"], f"{where}.timeout_height"),
        )
        fee = Fee(_coins(fee_fields["amount"], f"{where}.fee.amount"), gas_limit)
        info = SignerInfo(pubkey, _int(request["sequence"], f"{where}.sequence"))
        return UnsignedTx(
            body, AuthInfo((info,), fee), chain_id, _int(request["account_number"], f"{where}.account_number")
        )
    except FormatError:
        raise
    except InputError as exc:
        raise _fail(where, exc.message) from None


def _pubkey_hex(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX_PUBKEY.fullmatch(value):
        raise _fail(where, "must be a 33-byte compressed public key in lowercase hex")
    return value


def _subaccount_fields(s: m.SubaccountId) -> dict[str, Any]:
    return {"owner": s.owner, "number": s.number}


def message_to_fields(msg: m.Message) -> dict[str, Any]:
    """The inverse of :func:`message_from_fields` (without the vectors' extra views)."""
    value: dict[str, Any]
    if isinstance(msg, m.MsgAddAuthenticator):
        value = {
            "sender": msg.sender,
            "authenticator_type": msg.authenticator_type,
            "data_base64": base64.b64encode(msg.data).decode("ascii"),
        }
    elif isinstance(msg, m.MsgRemoveAuthenticator):
        value = {"sender": msg.sender, "id": msg.id}
    elif isinstance(msg, m.MsgDepositToSubaccount):
        value = {
            "sender": msg.sender,
            "recipient": _subaccount_fields(msg.recipient),
            "asset_id": msg.asset_id,
            "quantums": msg.quantums,
        }
    elif isinstance(msg, m.MsgWithdrawFromSubaccount):
        value = {
            "sender": _subaccount_fields(msg.sender),
            "recipient": msg.recipient,
            "asset_id": msg.asset_id,
            "quantums": msg.quantums,
        }
    elif isinstance(msg, m.MsgCreateTransfer):
        t = msg.transfer
        value = {
            "transfer": {
                "sender": _subaccount_fields(t.sender),
                "recipient": _subaccount_fields(t.recipient),
                "asset_id": t.asset_id,
                "amount": t.amount,
            }
        }
    else:
        value = {
            "from_address": msg.from_address,
            "to_address": msg.to_address,
            "amount": [{"denom": c.denom, "amount": str(c.amount)} for c in msg.amount],
        }
    return {"type_url": msg.TYPE_URL, "value": value}


def fields_from_unsigned(tx: UnsignedTx) -> dict[str, Any]:
    """The request fields of an unsigned transaction (what the relay writes into a v4-tx-request)."""
    (signer,) = tx.body.signers()
    fee = tx.auth_info.fee
    return {
        "chain_id": tx.chain_id,
        "account_number": tx.account_number,
        "sequence": tx.auth_info.signer.sequence,
        "signer_address": signer,
        "signer_pubkey": tx.auth_info.signer.public_key.hex(),
        "fee": {
            "amount": [{"denom": c.denom, "amount": str(c.amount)} for c in fee.amount],
            "gas_limit": fee.gas_limit,
        },
        "gas_limit": fee.gas_limit,
        "timeout_height": tx.body.timeout_height,
        "memo": tx.body.memo,
        "messages": [message_to_fields(msg) for msg in tx.body.messages],
    }
