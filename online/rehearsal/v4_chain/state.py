"""The stand-in's chain state as one value: accounts, balances, subaccounts, authenticators, nonces.

Rehearsal state is tiny, so it is kept as a plain value that is copied for the mempool's check state and
for a message's execution (a failed message is undone by dropping its copy, as the SDK drops a cache
store), and stored whole as JSON in SQLite at each commit (``store.py``). Amounts are Python integers
(coin amounts reach 2**256) and are written as decimal strings.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from dydx_airgap.shared.dydx_v4.coins import Coin


@dataclass
class Account:
    number: int
    sequence: int = 0
    pub_key: bytes | None = None


@dataclass
class Authenticator:
    id: int
    type: str
    config: bytes


@dataclass
class NonceDetails:
    """x/accountplus TimestampNonceDetails: the remembered nonces and the largest one ejected."""

    nonces: list[int] = field(default_factory=list)
    max_ejected: int = 0


@dataclass
class ChainState:
    height: int
    time_ms: int
    next_account_number: int = 0
    next_authenticator_id: int = 0
    smart_account_active: bool = True
    accounts: dict[str, Account] = field(default_factory=dict)
    balances: dict[str, dict[str, int]] = field(default_factory=dict)
    #: USDC quantums per (owner, subaccount number).
    subaccounts: dict[tuple[str, int], int] = field(default_factory=dict)
    authenticators: dict[str, dict[int, Authenticator]] = field(default_factory=dict)
    nonces: dict[str, NonceDetails] = field(default_factory=dict)

    def copy(self) -> ChainState:
        return copy.deepcopy(self)

    # ---- bank ----

    def balance(self, address: str, denom: str) -> int:
        return self.balances.get(address, {}).get(denom, 0)

    def coins(self, address: str) -> list[Coin]:
        return [Coin(d, a) for d, a in sorted(self.balances.get(address, {}).items()) if a]

    def credit(self, address: str, denom: str, amount: int) -> None:
        """Add to a bank balance; an address first receiving funds gets the next account number."""
        if address not in self.accounts:
            self.accounts[address] = Account(self.next_account_number)
            self.next_account_number += 1
        wallet = self.balances.setdefault(address, {})
        wallet[denom] = wallet.get(denom, 0) + amount

    def debit(self, address: str, denom: str, amount: int) -> bool:
        """Subtract if the balance covers it; False (and no change) otherwise."""
        have = self.balance(address, denom)
        if have < amount:
            return False
        self.balances.setdefault(address, {})[denom] = have - amount
        return True

    # ---- persistence ----

    def to_json(self) -> str:
        return json.dumps(
            {
                "height": self.height,
                "time_ms": self.time_ms,
                "next_account_number": self.next_account_number,
                "next_authenticator_id": self.next_authenticator_id,
                "smart_account_active": self.smart_account_active,
                "accounts": {
                    a: [acc.number, str(acc.sequence), acc.pub_key.hex() if acc.pub_key else None]
                    for a, acc in self.accounts.items()
                },
                "balances": {a: {d: str(v) for d, v in w.items()} for a, w in self.balances.items()},
                "subaccounts": [[o, n, str(v)] for (o, n), v in self.subaccounts.items()],
                "authenticators": {
                    a: [[x.id, x.type, x.config.hex()] for x in m.values()]
                    for a, m in self.authenticators.items()
                },
                "nonces": {
                    a: [[str(n) for n in d.nonces], str(d.max_ejected)] for a, d in self.nonces.items()
                },
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ChainState:
        d: dict[str, Any] = json.loads(text)
        state = cls(
            height=d["height"],
            time_ms=d["time_ms"],
            next_account_number=d["next_account_number"],
            next_authenticator_id=d["next_authenticator_id"],
            smart_account_active=d["smart_account_active"],
        )
        for address, (number, sequence, pub_key) in d["accounts"].items():
            state.accounts[address] = Account(
                number, int(sequence), bytes.fromhex(pub_key) if pub_key else None
            )
        state.balances = {a: {k: int(v) for k, v in w.items()} for a, w in d["balances"].items()}
        state.subaccounts = {(o, n): int(v) for o, n, v in d["subaccounts"]}
        state.authenticators = {
            a: {i: Authenticator(i, t, bytes.fromhex(c)) for i, t, c in rows}
            for a, rows in d["authenticators"].items()
        }
        state.nonces = {a: NonceDetails([int(n) for n in ns], int(m)) for a, (ns, m) in d["nonces"].items()}
        return state
