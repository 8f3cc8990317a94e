"""Test helpers for the v4 vectors: load the kit's file, and translate its ``request`` shape both ways.

The vectors describe each transaction twice: as a ``request`` (chain id, account number, sequence,
messages by proto field name, fee …) and as the official client's bytes. These helpers turn a request
into our typed objects and a parsed transaction back into a request, so a test can demand that both
directions agree with the file.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.tx import AuthInfo, Fee, ParsedTx, SignerInfo, TxBody, UnsignedTx

from .conftest import KIT

V4_VECTORS = KIT / "vectors" / "dydx-v4.json"


@cache
def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(V4_VECTORS.read_text())
    assert data["format"] == "dydx-v4-vectors/1"
    return data


def v4() -> dict[str, Any]:
    """A fresh copy each time, so no test can alter what another sees."""
    copy: dict[str, Any] = json.loads(json.dumps(_load()))
    return copy


def all_txs() -> list[dict[str, Any]]:
    """Every signed transaction in the file: the ``txs`` and each authenticator case's ``tx_if_signed``."""
    data = v4()
    cases: list[dict[str, Any]] = data["unsafe_authenticators"] + data["safe_authenticators"]
    txs: list[dict[str, Any]] = data["txs"]
    return txs + [c["tx_if_signed"] for c in cases]


def derivation_by_account(name: str) -> dict[str, Any]:
    return next(d for d in v4()["derivations"] if d["name"] == name)


def _subaccount(value: dict[str, Any]) -> m.SubaccountId:
    return m.SubaccountId(value["owner"], value["number"])


def _coins(values: list[dict[str, Any]]) -> tuple[Coin, ...]:
    return tuple(Coin(c["denom"], int(c["amount"])) for c in values)


def message_from_request(entry: dict[str, Any]) -> m.Message:
    url, v = entry["type_url"], entry["value"]
    if url == m.MsgAddAuthenticator.TYPE_URL:
        data = base64.b64decode(v["data_base64"], validate=True)
        assert data.hex() == v["data_hex"]
        assert v["data_utf8"] == (data.decode() if v["data_utf8"] is not None else None)
        return m.MsgAddAuthenticator(v["sender"], v["authenticator_type"], data)
    if url == m.MsgRemoveAuthenticator.TYPE_URL:
        return m.MsgRemoveAuthenticator(v["sender"], v["id"])
    if url == m.MsgDepositToSubaccount.TYPE_URL:
        return m.MsgDepositToSubaccount(
            v["sender"], _subaccount(v["recipient"]), v["asset_id"], v["quantums"]
        )
    if url == m.MsgWithdrawFromSubaccount.TYPE_URL:
        return m.MsgWithdrawFromSubaccount(
            _subaccount(v["sender"]), v["recipient"], v["asset_id"], v["quantums"]
        )
    if url == m.MsgCreateTransfer.TYPE_URL:
        t = v["transfer"]
        return m.MsgCreateTransfer(
            m.Transfer(_subaccount(t["sender"]), _subaccount(t["recipient"]), t["asset_id"], t["amount"])
        )
    assert url == m.MsgSend.TYPE_URL, url
    return m.MsgSend(v["from_address"], v["to_address"], _coins(v["amount"]))


def unsigned_from_request(request: dict[str, Any]) -> UnsignedTx:
    assert request["gas_limit"] == request["fee"]["gas_limit"]
    body = TxBody(
        tuple(message_from_request(e) for e in request["messages"]),
        memo=request["memo"],
        timeout_height=request["timeout_height"],
    )
    fee = Fee(_coins(request["fee"]["amount"]), request["fee"]["gas_limit"])
    signer = SignerInfo(bytes.fromhex(request["signer_pubkey"]), request["sequence"])
    return UnsignedTx(body, AuthInfo((signer,), fee), request["chain_id"], request["account_number"])


def _subaccount_json(s: m.SubaccountId) -> dict[str, Any]:
    return {"owner": s.owner, "number": s.number}


def message_to_request(msg: m.Message) -> dict[str, Any]:
    value: dict[str, Any]
    if isinstance(msg, m.MsgAddAuthenticator):
        try:
            text: str | None = msg.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        value = {
            "sender": msg.sender,
            "authenticator_type": msg.authenticator_type,
            "data_utf8": text,
            "data_base64": base64.b64encode(msg.data).decode(),
            "data_hex": msg.data.hex(),
        }
    elif isinstance(msg, m.MsgRemoveAuthenticator):
        value = {"sender": msg.sender, "id": msg.id}
    elif isinstance(msg, m.MsgDepositToSubaccount):
        value = {
            "sender": msg.sender,
            "recipient": _subaccount_json(msg.recipient),
            "asset_id": msg.asset_id,
            "quantums": msg.quantums,
        }
    elif isinstance(msg, m.MsgWithdrawFromSubaccount):
        value = {
            "sender": _subaccount_json(msg.sender),
            "recipient": msg.recipient,
            "asset_id": msg.asset_id,
            "quantums": msg.quantums,
        }
    elif isinstance(msg, m.MsgCreateTransfer):
        t = msg.transfer
        value = {
            "transfer": {
                "sender": _subaccount_json(t.sender),
                "recipient": _subaccount_json(t.recipient),
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


def request_from_parsed(parsed: ParsedTx, chain_id: str, account_number: int) -> dict[str, Any]:
    """The request a parsed transaction answers, given the context its bytes do not carry."""
    (signer,) = parsed.body.signers()
    fee = parsed.auth_info.fee
    return {
        "chain_id": chain_id,
        "account_number": account_number,
        "sequence": parsed.auth_info.signer.sequence,
        "signer_address": signer,
        "signer_pubkey": parsed.auth_info.signer.public_key.hex(),
        "fee": {
            "amount": [{"denom": c.denom, "amount": str(c.amount)} for c in fee.amount],
            "gas_limit": fee.gas_limit,
        },
        "gas_limit": fee.gas_limit,
        "timeout_height": parsed.body.timeout_height,
        "memo": parsed.body.memo,
        "messages": [message_to_request(msg) for msg in parsed.body.messages],
    }
