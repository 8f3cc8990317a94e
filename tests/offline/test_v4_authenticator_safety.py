"""The cold review's authenticator verdict against an independent model of the chain, on generated trees.

The model evaluates a tree the way x/accountplus runs it — for one message and one set of signatures —
over a universe of messages (order messages on several subaccounts and markets, and the messages that move
funds). A tree is safe for a hot key iff the chain would register it (every path needs a signature) and no
message that is not an order ever passes it. Trees are generated with AllOf/AnyOf nesting and every filter
type, encoded in both JSON spellings (the web client's compact one and the Python client's spaced one);
the review's verdict must equal the model's on every tree.
"""

from __future__ import annotations

import base64
import json
import os
import random  # noqa: TID251 - reproducible generated trees (the seed is reported), no key material
from itertools import product
from typing import Any

from dydx_airgap.offline.review.v4_review import judge_authenticator
from dydx_airgap.shared.dydx_v4 import authenticators as auth

HOT = bytes.fromhex("0318797809a39fe678081ec2b7a81137d1a03b6284a4d1cff4ed607f331ffb59e5")
OTHER = bytes.fromhex("028c6c8e1e617858545d15a3f122caf6b83048181250dceff7618a50d71344b37a")
ORDERS = (
    "/dydxprotocol.clob.MsgPlaceOrder",
    "/dydxprotocol.clob.MsgCancelOrder",
    "/dydxprotocol.clob.MsgBatchCancel",
)
FUNDS = (
    "/dydxprotocol.sending.MsgWithdrawFromSubaccount",
    "/dydxprotocol.sending.MsgCreateTransfer",
    "/cosmos.bank.v1beta1.MsgSend",
    "/dydxprotocol.accountplus.MsgAddAuthenticator",
)
# (type URL, subaccount, clob pair) of every message the model tries.
UNIVERSE = [(t, s, c) for t in ORDERS for s in (0, 1, 7) for c in (0, 1, 5)] + [(t, 0, 0) for t in FUNDS]
TREES = 3000


def leaf(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(5)
    if kind < 2:
        return {"type": "SignatureVerification", "config": rng.choice([HOT, HOT, OTHER])}
    if kind == 2:
        urls = rng.sample(ORDERS + FUNDS, rng.randrange(1, 3))
        return {"type": "MessageFilter", "config": ",".join(urls).encode()}
    numbers = rng.sample([0, 1, 5, 7], rng.randrange(1, 3))
    name = "SubaccountFilter" if kind == 3 else "ClobPairIdFilter"
    return {"type": name, "config": ",".join(map(str, numbers)).encode()}


def tree(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth >= 3 or rng.random() < 0.35:
        return leaf(rng)
    return {
        "type": rng.choice(["AllOf", "AnyOf"]),
        "subs": [tree(rng, depth + 1) for _ in range(rng.randrange(2, 4))],
    }


def encode(node: dict[str, Any], spaced: bool) -> bytes:
    if "subs" not in node:
        return node["config"]
    entries = [
        {"type": s["type"], "config": base64.b64encode(encode(s, spaced)).decode()} for s in node["subs"]
    ]
    return json.dumps(entries, separators=(", ", ": ") if spaced else (",", ":")).encode()


def passes(node: dict[str, Any], message: tuple[str, int, int], signers: frozenset[bytes]) -> bool:
    """The chain's run of one tree for one message: the model this test trusts instead of our code."""
    kind, config = node["type"], node.get("config")
    url, subaccount, clob = message
    if kind == "SignatureVerification":
        return config in signers
    if kind == "MessageFilter":
        return url in config.decode().split(",")
    if kind in ("SubaccountFilter", "ClobPairIdFilter"):
        if url not in ORDERS:
            return True  # these filters look only at order messages
        value = subaccount if kind == "SubaccountFilter" else clob
        return str(value) in config.decode().split(",")
    results = [passes(sub, message, signers) for sub in node["subs"]]
    return all(results) if kind == "AllOf" else any(results)


def needs_signature(node: dict[str, Any]) -> bool:
    if node["type"] == "SignatureVerification":
        return True
    if node["type"] == "AllOf":
        return any(needs_signature(s) for s in node["subs"])
    if node["type"] == "AnyOf":
        return all(needs_signature(s) for s in node["subs"])
    return False


def model_safe(node: dict[str, Any]) -> bool:
    if not needs_signature(node):
        return False
    keys = {n["config"] for n in _leaves(node) if n["type"] == "SignatureVerification"}
    # Passing is monotone in the signatures: trying none and all of them covers every signer set.
    for message, chosen in product(UNIVERSE, [frozenset(), frozenset(keys)]):
        if passes(node, message, chosen) and (message[0] not in ORDERS or not chosen):
            return False
    return True


def _leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "subs" not in node:
        return [node]
    return [leaf for sub in node["subs"] for leaf in _leaves(sub)]


def test_the_review_refuses_exactly_the_generated_trees_that_let_a_hot_key_move_funds(figure: Any) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    counts = {"safe": 0, "unsafe": 0, "chain_refuses": 0}
    filters_seen: set[str] = set()
    for _ in range(TREES):
        node = tree(rng)
        if "subs" not in node:
            node = {"type": "AllOf", "subs": [node, leaf(rng)]}
        expected = model_safe(node)
        verdicts = set()
        for spaced in (False, True):
            parsed = auth.parse_authenticator(node["type"], encode(node, spaced))
            verdicts.add(judge_authenticator(parsed).safe)
        assert verdicts == {expected}, (seed, node)
        counts["safe" if expected else "unsafe"] += 1
        counts["chain_refuses"] += not needs_signature(node)
        filters_seen |= {n["type"] for n in _leaves(node)}
    assert filters_seen == {"SignatureVerification", "MessageFilter", "SubaccountFilter", "ClobPairIdFilter"}
    assert counts["safe"] >= 50 and counts["unsafe"] >= 50, counts  # both sides of the verdict exercised
    figure(
        f"v4 authenticator safety: {TREES} generated trees x 2 JSON spellings (seed {seed}): "
        f"{counts['unsafe']} refused by default ({counts['chain_refuses']} of them the chain refuses too), "
        f"{counts['safe']} accepted, 0 disagreements with the chain model"
    )


def test_the_official_recipe_is_accepted_in_both_json_spellings() -> None:
    recipe = auth.trading_key_recipe(HOT)
    type_name, compact = auth.encode_authenticator(recipe)
    spaced_tree = {
        "type": "AllOf",
        "subs": [
            {"type": "SignatureVerification", "config": HOT},
            {"type": "AnyOf", "subs": [{"type": "MessageFilter", "config": u.encode()} for u in ORDERS]},
            {"type": "SubaccountFilter", "config": b"0"},
        ],
    }
    spaced = encode(spaced_tree, spaced=True)
    assert compact == encode(spaced_tree, spaced=False) and spaced != compact
    assert len(compact) == 491 and len(spaced) == 514  # the two byte forms spec §B3 names
    for data in (compact, spaced):
        assert judge_authenticator(auth.parse_authenticator(type_name, data)).safe
