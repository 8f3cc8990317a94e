"""Escape fixtures: a shared state with the merkleProof of every position in it.

``build_escape_state`` is the public entry point for tests and other code that need consistent escape
data: positions in, shared-state words and one proof per position out, plus what the verifier must
compute for each. ``mainnet_position_1`` is the real mainnet vector (position 1 of the state replayed
from block 17605965, spec escape-hatch.md §A7.1) as package data. ``synthetic_market`` and
``synthetic_positions`` make deterministic assets, prices, negative funding and positions from a seed
(no ``random``: the project bans it; the draws come from SHA-256 of the seed and a counter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files

from dydx_airgap.online.rehearsal.escape.leaf import AssetBalance, Position, leaf_hash, position_items
from dydx_airgap.online.rehearsal.escape.proof import decode_merkle_proof, merkle_proof_words
from dydx_airgap.online.rehearsal.escape.state import DYDX_ORDER_ROOT, SharedState, shared_state_hash
from dydx_airgap.online.rehearsal.escape.tree import SparsePositionTree
from dydx_airgap.online.rehearsal.escape.valuation import withdrawal_amount
from dydx_airgap.shared.stark.constants import EC_ORDER
from dydx_airgap.shared.stark.keys import private_to_stark_key

MAINNET_VECTOR = "escape-mainnet-pos1.json"


@dataclass(frozen=True)
class EscapeState:
    """One shared state and the escape data of the positions it holds (keyed by position id)."""

    shared_state: tuple[int, ...]
    proofs: Mapping[int, tuple[int, ...]]
    positions: Mapping[int, Position]
    #: What verifyEscape computes for each position; a value ≤ 0 is refused ("Withdrawal amount must
    #: be positive.") and has no escape.
    withdrawals: Mapping[int, int]

    @property
    def root(self) -> int:
        return self.shared_state[0]

    @property
    def state_hash(self) -> bytes:
        return shared_state_hash(self.shared_state)

    def n_assets(self, position_id: int) -> int:
        return self.positions[position_id].n_assets


def build_escape_state(
    positions: Sequence[Position],
    funding: Mapping[int, int],
    prices: Mapping[int, int],
    *,
    funding_timestamp: int,
    system_time: int | None = None,
    order_root: int = DYDX_ORDER_ROOT,
) -> EscapeState:
    """Build the height-64 position tree of ``positions`` and the state that commits to it.

    ``funding`` maps each synthetic asset id to its global funding index (signed 32.32), ``prices`` to
    its oracle price (unsigned 32.32); both tables must cover every asset a position holds. The
    returned ``shared_state`` and ``proofs[position_id]`` are exactly verifyEscape's third and first
    arguments (its second is ``positions[position_id].n_assets``).
    """
    by_id: dict[int, Position] = {}
    for position in positions:
        if position.position_id in by_id:
            raise ValueError(f"position {position.position_id} appears twice")
        missing = [
            a.asset_id for a in position.assets if a.asset_id not in funding or a.asset_id not in prices
        ]
        if missing:
            raise ValueError(f"position {position.position_id} holds assets without funding or price")
        by_id[position.position_id] = position
    tree = SparsePositionTree({pid: leaf_hash(position) for pid, position in by_id.items()})
    state = SharedState(
        position_root=tree.root,
        funding=dict(funding),
        prices=dict(prices),
        funding_timestamp=funding_timestamp,
        system_time=funding_timestamp if system_time is None else system_time,
        order_root=order_root,
    )
    return EscapeState(
        shared_state=state.words(),
        proofs={pid: merkle_proof_words(position, tree) for pid, position in by_id.items()},
        positions=by_id,
        withdrawals={pid: withdrawal_amount(position, funding, prices) for pid, position in by_id.items()},
    )


# --- the mainnet vector --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MainnetVector:
    """The real position-1 proof and state (June 2023) and what a correct verifier derives from them."""

    stark_key: int
    ethereum_address: str
    position_id: int
    n_assets: int
    merkle_proof: tuple[int, ...]
    shared_state: tuple[int, ...]
    expected_withdrawal: int
    root: int
    shared_state_hash: bytes
    escape_fact: bytes

    def escape_state(self) -> EscapeState:
        """The vector as an ``EscapeState``: its one position is read back from the proof's hash chain."""
        decoded = decode_merkle_proof(self.merkle_proof, self.n_assets)
        stark_key, collateral_word = decoded.items[-2:]
        position = Position(
            position_id=decoded.position_id,
            stark_key=stark_key,
            collateral=(collateral_word >> 16) - 2**63,
        )
        if position_items(position) != decoded.items:
            raise ValueError("the mainnet vector's position is not collateral-only")
        return EscapeState(
            shared_state=self.shared_state,
            proofs={self.position_id: self.merkle_proof},
            positions={self.position_id: position},
            withdrawals={self.position_id: self.expected_withdrawal},
        )


def mainnet_position_1() -> MainnetVector:
    data = json.loads(
        files(__package__).joinpath("data").joinpath(MAINNET_VECTOR).read_text(encoding="utf-8")
    )
    return MainnetVector(
        stark_key=int(data["stark_key"], 16),
        ethereum_address=data["ethereum_address"],
        position_id=int(data["position_id"]),
        n_assets=int(data["n_assets"]),
        merkle_proof=tuple(int(word, 16) for word in data["merkle_proof"]),
        shared_state=tuple(int(word, 16) for word in data["shared_state"]),
        expected_withdrawal=int(data["expected_withdrawal_quantized"]),
        root=int(data["root"], 16),
        shared_state_hash=bytes.fromhex(data["shared_state_hash"].removeprefix("0x")),
        escape_fact=bytes.fromhex(data["escape_fact"].removeprefix("0x")),
    )


# --- synthetic markets and positions -------------------------------------------------------------------


def asset_id_of(name: str) -> int:
    """dYdX's synthetic asset id: the market name's ASCII right-padded with zero bytes to 15 bytes."""
    raw = name.encode("ascii")
    if len(raw) > 15:
        raise ValueError("an asset name is at most 15 ASCII bytes")
    return int.from_bytes(raw.ljust(15, b"\0"), "big")


class _Draws:
    """Deterministic integers from a seed: SHA-256(seed ‖ label ‖ counter)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def below(self, label: str, bound: int) -> int:
        self._counter += 1
        digest = hashlib.sha256(self._seed + label.encode() + self._counter.to_bytes(8, "big")).digest()
        return int.from_bytes(digest, "big") % bound

    def between(self, label: str, low: int, high: int) -> int:
        return low + self.below(label, high - low + 1)


SYNTHETIC_MARKETS = ("BTC-10", "ETH-9", "LINK-7", "SOL-7", "AVAX-7")


@dataclass(frozen=True)
class SyntheticMarket:
    funding: Mapping[int, int]
    prices: Mapping[int, int]


def synthetic_market(seed: bytes, markets: Sequence[str] = SYNTHETIC_MARKETS) -> SyntheticMarket:
    """Prices of a few cents to a few dollars per quantum, and funding indices that are negative."""
    draws = _Draws(b"market:" + seed)
    funding = {asset_id_of(name): -draws.between("funding", 2**20, 2**40) for name in markets}
    prices = {asset_id_of(name): draws.between("price", 2**28, 2**36) for name in markets}
    return SyntheticMarket(funding=funding, prices=prices)


def synthetic_stark_key(seed: bytes, index: int) -> int:
    """A valid STARK key (a point's x) from a public, worthless private key."""
    digest = hashlib.sha256(b"dydx-airgap synthetic position key:" + seed + index.to_bytes(8, "big")).digest()
    return private_to_stark_key(1 + int.from_bytes(digest, "big") % (EC_ORDER - 1))


def synthetic_positions(
    seed: bytes,
    market: SyntheticMarket,
    stark_keys: Sequence[int],
    first_position_id: int,
) -> tuple[Position, ...]:
    """One position per key: 1 to all synthetic assets, long and short, funding owed and earned.

    The first position is long with funding owed (a negative funding total); every position's funding
    has a fractional part, so the verifier's rounding toward −∞ matters; every escape amount is positive
    (the collateral is doubled until it is).
    """
    draws = _Draws(b"positions:" + seed)
    asset_ids = sorted(market.funding)
    positions = []
    for index, stark_key in enumerate(stark_keys):
        count = 1 + index % len(asset_ids)
        assets = []
        for asset_id in asset_ids[:count]:
            size = draws.between("balance", 1_000, 5_000_000)
            long = index == 0 or draws.below("side", 2) == 0
            # The index moved by `moved` since the position settled: a long pays when it rose.
            moved = draws.between("funding-age", 1, 2**36) + draws.between("fraction", 1, 2**32 - 1)
            if index > 0 and draws.below("direction", 2) == 0:
                moved = -moved
            assets.append(AssetBalance(asset_id, size if long else -size, market.funding[asset_id] - moved))
        collateral = draws.between("collateral", 10**6, 10**11)
        position = Position(first_position_id + index, stark_key, collateral, tuple(assets))
        while withdrawal_amount(position, market.funding, market.prices) <= 0:
            collateral *= 2
            position = Position(position.position_id, stark_key, collateral, position.assets)
        positions.append(position)
    return tuple(positions)
