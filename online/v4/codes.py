"""The chain's result codes (spec §B6) as one line a person can act on.

A CheckTx answer or a block result carries ``code``, ``codespace`` and ``raw_log``; the code says what
happened, the log only adds the chain's numbers. Each line says what the code means *for this relay*: above
all whether the signed bytes can still be used (only 19 — "already in the mempool" — leaves them in play)
or a new request must be prepared and signed on the cold machine. The node's own text follows, escaped.
"""

from __future__ import annotations

from dydx_airgap.online.http import one_line

RESIGN = "prepare a new request and sign it again on the cold machine"

#: (codespace, code) → what it means. Texts are ours; codes are the chain's (cosmos-sdk types/errors,
#: x/accountplus, x/clob).
_EXPLANATIONS: dict[tuple[str, int], str] = {
    ("sdk", 2): "the node cannot decode the transaction bytes (damaged or not a dYdX Chain transaction)",
    ("sdk", 4): (
        "the signature does not verify for this chain id and account number, or an authenticator refused "
        "the signer (a trading key used for a message it is not allowed)"
    ),
    ("sdk", 5): "insufficient funds: the account cannot pay the fee or the amount",
    ("sdk", 8): "the public key in the transaction is not the signer's",
    ("sdk", 11): f"out of gas: the gas limit was too low for these messages; {RESIGN} with more gas",
    ("sdk", 12): "the memo is longer than the chain allows (256 characters)",
    ("sdk", 13): f"insufficient fee for the gas limit at the node's minimum gas price; {RESIGN}",
    ("sdk", 18): "the chain refused a message as invalid",
    ("sdk", 19): "the transaction is already in the node's mempool: it was received; wait for a block",
    ("sdk", 30): f"the timeout height has passed: the transaction can never be included; {RESIGN}",
    ("sdk", 32): (
        "the account's sequence has moved (another transaction used it, e.g. a trading key's stateful "
        f"order) or this one is already included; {RESIGN} unless it is already included"
    ),
    ("accountplus", 1): "the selected authenticator does not exist for this account (removed, or a wrong id)",
    ("accountplus", 4): "smart accounts (authenticators) are not active on this chain",
    ("accountplus", 100): "the authenticator's signature check failed (another key signed)",
    ("accountplus", 101): "the authenticator does not allow this message type",
    ("accountplus", 102): "the authenticator does not allow this market (clob pair)",
    ("accountplus", 104): "one part of the AllOf authenticator refused the message",
    ("accountplus", 105): "no part of the AnyOf authenticator allowed the message",
    ("clob", 10): "the order's good-til-block is already in the past",
    ("clob", 11): "the order's good-til-block is more than 40 blocks ahead",
}


def explain(code: int, codespace: str, raw_log: str) -> str:
    """One line: the code, what it means, and the node's own log (control characters escaped)."""
    space = codespace or "sdk"
    meaning = _EXPLANATIONS.get((space, code), "the chain refused the transaction")
    shown_space = one_line(space, 40)
    if not raw_log:
        return f"code {code} ({shown_space}): {meaning}"
    return f"code {code} ({shown_space}): {meaning} — the node said: {one_line(raw_log, 240)}"


def explained_codes() -> frozenset[tuple[str, int]]:
    return frozenset(_EXPLANATIONS)
