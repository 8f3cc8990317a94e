"""A small, independent builder of StarkPerpetual position trees and escape proofs, for tests only.

It follows escape-hatch.md §A5 directly (leaf hash chain, sparse height-64 tree, proof word packing) so the
project's verifier is checked against data it did not produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dydx_airgap.shared.stark.pedersen import pedersen_hash

BIAS = 2**63
HEIGHT = 64


@dataclass
class Position:
    position_id: int
    stark_key: int
    collateral: int
    # (asset id, balance, cached funding index unbiased)
    assets: list[tuple[int, int, int]] = field(default_factory=list)

    def items(self) -> list[int]:
        words = [
            asset_id * 2**128 + (cached + BIAS) * 2**64 + (balance + BIAS)
            for asset_id, balance, cached in sorted(self.assets)
        ]
        return [*words, self.stark_key, (self.collateral + BIAS) * 2**16 + len(self.assets)]


def hash_chain(items: list[int]) -> list[int]:
    states = [0]
    for item in items:
        states.append(pedersen_hash(states[-1], item))
    return states


def empty_hashes(height: int = HEIGHT) -> list[int]:
    # The empty leaf is key 0, collateral 0 (biased by 2^63), no assets.
    level = [hash_chain([0, BIAS * 2**16])[-1]]
    for _ in range(height):
        level.append(pedersen_hash(level[-1], level[-1]))
    return level


def state_words(
    root: int,
    funding: list[tuple[int, int]],
    prices: list[tuple[int, int]],
    timestamp: int = 1_700_000_000,
    height: int = HEIGHT,
) -> list[int]:
    words = [root, height, 0, HEIGHT, len(funding)]
    for asset_id, index in funding:
        words += [asset_id, index + BIAS]
    words += [timestamp, len(prices)]
    for asset_id, price in prices:
        words += [asset_id, price]
    return [*words, timestamp]


def pack_pair(left: int, right: int) -> tuple[int, int]:
    value = (left << 260) | (right << 8)
    return value >> 256, value & (2**256 - 1)


def build(positions: list[Position], height: int = HEIGHT) -> tuple[int, dict[int, list[int]]]:
    """The root and each position's merkle proof words."""
    empty = empty_hashes(height)
    leaves = {p.position_id: hash_chain(p.items())[-1] for p in positions}
    levels = [leaves]
    for level in range(height):
        below, above = levels[-1], {}
        for index in {i // 2 for i in below}:
            left = below.get(2 * index, empty[level])
            right = below.get(2 * index + 1, empty[level])
            above[index] = pedersen_hash(left, right)
        levels.append(above)
    root = levels[-1][0]
    proofs = {}
    for position in positions:
        items = position.items()
        chain = hash_chain(items)
        pairs = [(chain[i], items[i]) for i in range(len(items))]
        index = position.position_id
        for level in range(height):
            node = levels[level][index]
            sibling = levels[level].get(index ^ 1, empty[level])
            pairs.append((node, sibling) if index % 2 == 0 else (sibling, node))
            index //= 2
        words: list[int] = []
        for left, right in pairs:
            words += pack_pair(left, right)
        node_idx = position.position_id << len(items)
        value = (root << 260) | (node_idx << 8)
        words += [value >> 256, value & (2**256 - 1)]
        proofs[position.position_id] = words
    return root, proofs
