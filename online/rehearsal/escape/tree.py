"""The position tree: a sparse binary Pedersen Merkle tree of height 64, leaf index = position id.

Almost every one of its 2^64 leaves is the empty position, so a subtree without any held position has a
known hash that depends only on its height: empty(0) = the empty leaf, empty(k + 1) = H(empty(k),
empty(k)). Only the nodes above held positions are stored; everything else is one of those 65 values.
The empty root equals what dYdX's ``getVaultRoot()`` returns (spec escape-hatch.md headline 4).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from dydx_airgap.online.rehearsal.escape.leaf import EMPTY_POSITION, leaf_hash
from dydx_airgap.shared.stark.pedersen import pedersen_hash

POSITION_TREE_HEIGHT = 64


@functools.cache
def empty_subtree_hashes(height: int = POSITION_TREE_HEIGHT) -> tuple[int, ...]:
    """empty(0) … empty(height): the hash of an empty subtree of each height."""
    hashes = [leaf_hash(EMPTY_POSITION)]
    for _ in range(height):
        hashes.append(pedersen_hash(hashes[-1], hashes[-1]))
    return tuple(hashes)


class SparsePositionTree:
    """A position tree built from its non-empty leaves (position id → leaf hash)."""

    def __init__(self, leaves: Mapping[int, int], height: int = POSITION_TREE_HEIGHT) -> None:
        if not 1 <= height <= 200:
            raise ValueError("a tree the escape verifier accepts is 1 to 200 levels high")
        if any(not 0 <= index < 2**height for index in leaves):
            raise ValueError(f"a leaf index is outside a tree of height {height}")
        self.height = height
        self._empty = empty_subtree_hashes(height)
        # _levels[k] holds the stored nodes k levels above the leaves, by index within the level.
        self._levels: list[dict[int, int]] = [dict(leaves)]
        for level in range(height):
            below = self._levels[level]
            above: dict[int, int] = {}
            for parent in {index >> 1 for index in below}:
                above[parent] = pedersen_hash(self.node(level, 2 * parent), self.node(level, 2 * parent + 1))
            self._levels.append(above)

    def node(self, level: int, index: int) -> int:
        return self._levels[level].get(index, self._empty[level])

    @property
    def root(self) -> int:
        return self.node(self.height, 0)

    def path(self, leaf_index: int) -> tuple[tuple[int, int], ...]:
        """(left, right) of every level from the leaves up: the two children of each ancestor."""
        pairs = []
        for level in range(self.height):
            sibling_base = (leaf_index >> level) & ~1
            pairs.append((self.node(level, sibling_base), self.node(level, sibling_base + 1)))
        return tuple(pairs)
