"""What a trading bot needs once the cold key's MsgAddAuthenticator is on chain (spec §B7, §B8).

Authenticator ids come from a *global* counter, so the cold side cannot know the id it creates: the relay
reads the owner's authenticators back after the transaction is included and finds the one whose type and
config bytes are exactly those the transaction added. The bot then signs with its hot key, the owner's
address and account number, and ``TxExtension.selected_authenticators = [id]``.

The hot key is taken from the tree itself (its SignatureVerification key), never from what the caller
believes it authorised; if the caller names one, it must be that key. The tree's hot-key verdict travels
with the result, so a loose tree (e.g. SubaccountFilter without a MessageFilter, spec headline 1) is
reported as unsafe rather than handed over silently. If the same tree is on the account more than once,
the highest id is the newest (the counter only grows) and the others are listed so they can be removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dydx_airgap.online.v4.node import TxResult, V4Node
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4.messages import MsgAddAuthenticator
from dydx_airgap.shared.dydx_v4.tx import parse_tx, tx_hash
from dydx_airgap.shared.errors import FormatError, InputError, RemoteError, VerificationError


@dataclass(frozen=True)
class TradingKey:
    owner_address: str
    authenticator_id: int
    chain_id: str
    hot_public_key: bytes
    authenticator_type: str
    config: bytes
    verdict: a.Verdict
    added_in_tx: str
    height: int
    #: Other ids on the account with the very same type and config (older copies).
    same_tree_ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "owner_address": self.owner_address,
            "authenticator_id": self.authenticator_id,
            "chain_id": self.chain_id,
            "hot_public_key": self.hot_public_key.hex(),
            "authenticator_type": self.authenticator_type,
            "config_hex": self.config.hex(),
            "safe_for_a_hot_key": self.verdict.safe,
            "verdict": self.verdict.reason,
            "added_in_tx": self.added_in_tx,
            "height": self.height,
            "same_tree_ids": list(self.same_tree_ids),
        }


def _signature_keys(node: a.Authenticator) -> set[bytes]:
    if isinstance(node, a.SignatureVerification):
        return {node.public_key}
    if isinstance(node, a.AllOf | a.AnyOf):
        return set().union(*(_signature_keys(sub) for sub in node.subs))
    return set()


def added_authenticator(tx_raw: bytes) -> MsgAddAuthenticator:
    """The one MsgAddAuthenticator a signed add-trading-key transaction carries."""
    parsed = parse_tx(tx_raw)
    found = [m for m in parsed.body.messages if isinstance(m, MsgAddAuthenticator)]
    if len(found) != 1 or len(parsed.body.messages) != 1:
        raise InputError("an add-trading-key transaction carries exactly one MsgAddAuthenticator")
    return found[0]


def read_back(
    node: V4Node, tx_raw: bytes, included: TxResult, hot_public_key: bytes | None = None
) -> TradingKey:
    """The trading key that ``tx_raw`` (included as ``included``) put on chain, with its id."""
    digest = tx_hash(tx_raw)
    if included.txhash.upper() != digest or included.height == 0:
        raise VerificationError("the inclusion result given is not this transaction's")
    if not included.ok:
        raise RemoteError(f"transaction {digest} failed in block {included.height}; nothing was added")
    message = added_authenticator(tx_raw)
    try:
        tree = a.parse_authenticator(message.authenticator_type, message.data)
    except FormatError as exc:
        raise InputError(f"the added authenticator does not parse: {exc.message}") from None
    keys = _signature_keys(tree)
    if len(keys) != 1:
        raise InputError(f"the authenticator checks {len(keys)} keys' signatures, not one hot key's")
    (hot,) = keys
    if hot_public_key is not None and hot_public_key != hot:
        raise VerificationError(
            f"the authenticator authorises key {hot.hex()}, not the hot key {hot_public_key.hex()} given"
        )
    owner = message.sender
    matches = sorted(
        x.id
        for x in node.authenticators(owner)
        if x.type == message.authenticator_type and x.config == message.data
    )
    if not matches:
        raise RemoteError(
            f"the node lists no authenticator of {owner} with the type and config transaction {digest} "
            "added (was it removed since?)"
        )
    return TradingKey(
        owner_address=owner,
        authenticator_id=matches[-1],
        chain_id=node.network.chain_id,
        hot_public_key=hot,
        authenticator_type=message.authenticator_type,
        config=message.data,
        verdict=a.classify(tree, hot),
        added_in_tx=digest,
        height=included.height,
        same_tree_ids=tuple(matches[:-1]),
    )
