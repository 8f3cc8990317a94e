"""Running an account's authenticator against one message, as x/accountplus's Authenticate does.

Semantics (x/accountplus/authenticator/*.go): SignatureVerification checks the transaction's signature
over the sign bytes with its configured key; MessageFilter passes iff the message's type URL is listed;
SubaccountFilter and ClobPairIdFilter look only at MsgPlaceOrder / MsgCancelOrder (and MsgBatchCancel) and
**pass every other message** (spec headline 1: they do not restrict withdrawals); AllOf passes iff every
sub passes and reports the first failure; AnyOf passes iff one sub passes.

Trees are parsed with the shared strict parser; a stored tree that no longer parses fails closed.
"""

from __future__ import annotations

import dydx_airgap.online.rehearsal.v4_chain.errors as e
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4.chain_tx import ChainMessage
from dydx_airgap.shared.dydx_v4.clob import MsgCancelOrder, MsgPlaceOrder
from dydx_airgap.shared.dydx_v4.signature import is_valid_direct
from dydx_airgap.shared.errors import FormatError

from .errors import ChainError


def _go_set(values: list[str]) -> str:
    # How Go's %v prints the filters' whitelist maps (keys sorted): map[a:{} b:{}]
    return "map[" + " ".join(f"{v}:{{}}" for v in sorted(values)) + "]"


def _order_id_of(message: ChainMessage) -> tuple[int, int] | None:
    """(subaccount number, clob pair id) of an order message; None for every other message."""
    if isinstance(message, MsgPlaceOrder | MsgCancelOrder):
        oid = message.order_id
        return oid.subaccount_id.number, oid.clob_pair_id
    return None


def _check(node: a.Authenticator, message: ChainMessage, sign_doc: bytes, signature: bytes) -> None:
    if isinstance(node, a.SignatureVerification):
        if not is_valid_direct(node.public_key, sign_doc, signature):
            raise ChainError(e.SIGNATURE_VERIFICATION, "signature verification failed", e.ACCOUNTPLUS)
        return
    if isinstance(node, a.MessageFilter):
        if message.TYPE_URL not in node.type_urls:
            raise ChainError(
                e.MESSAGE_TYPE_VERIFICATION,
                f"message types do not match. Got {message.TYPE_URL}, "
                f"Expected {_go_set(list(node.type_urls))}",
                e.ACCOUNTPLUS,
            )
        return
    if isinstance(node, a.SubaccountFilter):
        ids = _order_id_of(message)
        if ids is not None and ids[0] not in node.numbers:
            raise ChainError(
                e.UNAUTHORIZED,
                f"subaccount number {ids[0]} not in whitelist {_go_set([str(n) for n in node.numbers])}",
            )
        return
    if isinstance(node, a.ClobPairIdFilter):
        ids = _order_id_of(message)
        if ids is not None and ids[1] not in node.ids:
            # ours: the detail wording; the code and registered text are x/accountplus's.
            raise ChainError(
                e.CLOB_PAIR_ID_VERIFICATION,
                f"order clob pair id {ids[1]} not in allowed list {_go_set([str(n) for n in node.ids])}",
                e.ACCOUNTPLUS,
            )
        return
    if isinstance(node, a.AllOf):
        for sub in node.subs:
            _check(sub, message, sign_doc, signature)
        return
    failures: list[str] = []
    for sub in node.subs:
        try:
            _check(sub, message, sign_doc, signature)
        except ChainError as exc:
            failures.append(exc.raw_log)
            continue
        return
    # Unverified against dYdX's any_of.go: the wording of its upstream (osmosis smart accounts), code 4.
    raise ChainError(e.UNAUTHORIZED, "all sub-authenticators failed to authenticate: " + "; ".join(failures))


def authenticate(
    type_name: str, config: bytes, message: ChainMessage, sign_doc: bytes, signature: bytes
) -> None:
    """Raise ChainError unless the stored authenticator (``type_name``, ``config``) passes ``message``."""
    try:
        tree = a.parse_authenticator(type_name, config)
    except FormatError as exc:
        raise ChainError(e.INTERNAL, f"stored authenticator does not initialize: {exc.message}") from None
    _check(tree, message, sign_doc, signature)
