"""The derivation firewall: >= 500 generated variants of each derivation template, 100 % refused.

Variants cover chain id (known and random), key order, extra and unused fields, whitespace and case
changes, look-alike letters, zero-width characters, pretty-printed personal-sign texts, and the digests
themselves (raw, eth_sign-wrapped, upper/lower case, with or without 0x). A control set of ordinary request
content must pass untouched, so the firewall is not simply refusing everything.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dydx_airgap.offline.review.firewall import find_derivation_template, screen
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    onboarding_action_digest,
    personal_sign_text,
    typed_data,
)
from dydx_airgap.shared.errors import PolicyError
from dydx_airgap.shared.ethereum.keccak import keccak256

TEMPLATES = {
    "v3-stark-key": STARK_KEY_ACTION,
    "v3-onboarding": ONBOARDING_ACTION,
    "v4-onboarding": "dYdX Chain Onboarding",
    "paradex": "STARK Key",
}
CONFUSABLE = {
    "a": "а",
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "x": "х",
    "y": "у",
    "i": "і",
    "s": "ѕ",
    "d": "ԁ",
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
REFUSED: dict[str, int] = dict.fromkeys(TEMPLATES, 0)


@st.composite
def mangled(draw: st.DrawFn, text: str) -> str:
    out = []
    for ch in text:
        choice = draw(st.integers(0, 9))
        if choice == 0:
            ch = ch.swapcase()
        elif choice == 1 and ch.lower() in CONFUSABLE:
            ch = CONFUSABLE[ch.lower()]
        elif choice == 2:
            ch = ch + draw(st.sampled_from(ZERO_WIDTH))
        elif choice == 3 and ch == " ":
            ch = draw(st.sampled_from(["", "  ", "\t", "_", "-", "\u00a0", "\u3000"]))
        elif choice == 4:
            ch = ch.upper()
        out.append(ch)
    return "".join(out)


chain_ids = st.one_of(st.sampled_from([1, 3, 5, 11155111]), st.integers(1, 2**63))


@st.composite
def variant(draw: st.DrawFn, name: str) -> object:
    action = TEMPLATES[name]
    chain_id = draw(chain_ids)
    text = draw(mangled(action))
    form = draw(st.integers(0, 6))
    message: dict[str, object] = {"action": text}
    if draw(st.booleans()):
        message["onlySignOn"] = draw(st.sampled_from(["https://trade.dydx.exchange", "", "x"]))
    if form == 0:  # EIP-712 typed data, possibly with extra domain fields and shuffled keys
        data = typed_data(chain_id, {k: str(v) for k, v in message.items()})
        if draw(st.booleans()):
            data["domain"]["verifyingContract"] = ""
        if draw(st.booleans()):
            data = dict(reversed(list(data.items())))
        return data
    if form == 1:  # personal-sign pretty text
        return personal_sign_text(chain_id, {k: str(v) for k, v in message.items()})
    if form == 2:  # compact JSON text, keys in any order, odd whitespace
        keys = draw(st.permutations([*list(message), "chainId"]))
        obj = {k: (chain_id if k == "chainId" else message[k]) for k in keys}
        return json.dumps(obj, indent=draw(st.sampled_from([None, 1, 4])), ensure_ascii=draw(st.booleans()))
    if form == 3:  # a payload-like nested body
        return {"request": {"fields": [text], "chain": chain_id}}
    if form == 4 and name in ("v3-stark-key", "v3-onboarding"):  # the digest itself, in some spelling
        real_chain = draw(st.sampled_from([1, 3, 5, 11155111]))
        digest = onboarding_action_digest(real_chain, action)
        if draw(st.booleans()):
            digest = keccak256(b"\x19Ethereum Signed Message:\n32" + digest)
        spelled = digest.hex()
        if draw(st.booleans()):
            spelled = spelled.upper()
        return draw(st.sampled_from(["0x", "", "digest:"])) + spelled
    return f"Please sign: {text} (chain {chain_id})"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_variant_is_refused(name: str, figure) -> None:
    count = 0

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=variant(name))
    def check(value: object) -> None:
        nonlocal count
        with pytest.raises(PolicyError, match="extract your keys"):
            screen(value, where="a test request")
        count += 1

    check()
    figure(f"firewall {name}: {count} generated variants, {count} refused (100 %)")
    assert count >= 500


CONTROL = [
    {"method": "POST", "requestPath": "/v3/api-keys", "body": "{}", "timestamp": "2026-01-01T00:00:00.000Z"},
    {"server_time": "2026-01-01T00:00:00.000Z", "source": "https://api.dydx.exchange/v3/time"},
    "0x" + "ab" * 32,
    "0x" + "00" * 65,
    "Ethereum mainnet (chain id 1)",
    {"spender": "0xD54f502e184B6B739d7D27a6410a67dc462D69c8", "amount": "1250.50"},
]


@pytest.mark.parametrize("value", CONTROL)
def test_ordinary_request_content_passes(value: object) -> None:
    assert find_derivation_template(value, include_keys=False) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_random_digests_pass(data: bytes) -> None:
    assert find_derivation_template("0x" + data.hex()) is None
