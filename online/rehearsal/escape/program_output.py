"""The program output and application data of a perpetual ``updateState`` call.

Word layout, as StarkPerpetual's parseProgramOutput reads it: [0] general configuration hash,
[1] nAssetConfigs, 2 words per asset configuration, previous state size + previous state, new state size
+ new state, expiration timestamp (hours), nModifications, 3 words per modification (STARK key,
position id, balance change + 2^64), forced-actions size in words, nForcedActions, the forced actions
(type 0 = withdrawal: STARK key, position id, amount), nConditions, the conditions, and two words about
the on-chain data (its hash and size). The application data is [batch id, previous batch id,
nConditions].

A relay cross-checks an escape's shared state against the new state of the last ``updateState``
(spec escape-hatch.md §A6), so the stand-in's state updates carry the real layout; ``new_state_of`` is
the reading of it the tests use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MODIFICATION_BIAS = 2**64
FORCED_WITHDRAWAL = 0


@dataclass(frozen=True)
class Modification:
    """A change of a position's collateral the operator reports: > 0 accepts a deposit, < 0 withdraws."""

    stark_key: int
    position_id: int
    delta: int

    def words(self) -> tuple[int, int, int]:
        if not -MODIFICATION_BIAS <= self.delta < MODIFICATION_BIAS:
            raise ValueError("a balance change is within ±2^64")
        return self.stark_key, self.position_id, self.delta + MODIFICATION_BIAS


@dataclass(frozen=True)
class ForcedWithdrawal:
    """A forced withdrawal request the state update services (its flag is then cleared on chain)."""

    stark_key: int
    position_id: int
    amount: int


def program_output(
    previous_state: Sequence[int],
    new_state: Sequence[int],
    *,
    expiration_hours: int,
    modifications: Sequence[Modification] = (),
    forced_withdrawals: Sequence[ForcedWithdrawal] = (),
    configuration_hash: int = 0,
) -> tuple[int, ...]:
    """A program output without asset configurations or conditions (none is modelled on the stand-in).

    The two on-chain-data words are 0 and 0: the stand-in takes no STARK proof, so no fact is built.
    """
    words: list[int] = [configuration_hash, 0]
    words.append(len(previous_state))
    words.extend(previous_state)
    words.append(len(new_state))
    words.extend(new_state)
    words.append(expiration_hours)
    words.append(len(modifications))
    for modification in modifications:
        words.extend(modification.words())
    forced: list[int] = []
    for action in forced_withdrawals:
        forced.extend((FORCED_WITHDRAWAL, action.stark_key, action.position_id, action.amount))
    words.extend((len(forced), len(forced_withdrawals), *forced))
    words.append(0)  # nConditions
    words.extend((0, 0))  # on-chain data: hash, size
    return tuple(words)


def application_data(batch_id: int, previous_batch_id: int) -> tuple[int, ...]:
    return batch_id, previous_batch_id, 0


def new_state_of(output: Sequence[int]) -> tuple[int, ...]:
    """The new shared state a program output carries (the words a relay compares with the explorer's)."""
    offset = 2 + 2 * output[1]
    offset += 1 + output[offset]
    size = output[offset]
    if offset + 1 + size > len(output):
        raise ValueError("the program output ends inside its new state")
    return tuple(output[offset + 1 : offset + 1 + size])
