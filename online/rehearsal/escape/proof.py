"""The merkleProof words verifyEscape takes: the leaf's hash chain, the tree path, then root and index.

Each pair of 256-bit words is one 512-bit big-endian string (spec escape-hatch.md §A5):
* a level: left(252) ‖ right(252) ‖ 0^8;
* the last pair: root(252) ‖ 0^4 ‖ nodeIdx(248) ‖ 0^8.
The leaf's hash chain comes first, as nAssets + 2 extra levels whose left node is the chain state and
whose right node is the item folded in; nodeIdx = positionId · 2^(nAssets + 2) marks them as "always
take the left node". Then come the 64 tree levels from the leaf up, each the two children of one
ancestor. ``decode_merkle_proof`` reads the words back the way the verifier does, for the explorer's
proof page and for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.online.rehearsal.escape.leaf import Position, hash_chain, position_items
from dydx_airgap.online.rehearsal.escape.tree import SparsePositionTree

NODE_BITS = 252
NODE_MASK = 2**NODE_BITS - 1
NODE_INDEX_BITS = 248


def pack_pair(left: int, right: int) -> tuple[int, int]:
    """left(252) ‖ right(252) ‖ 0^8 as two words."""
    if not (0 <= left <= NODE_MASK and 0 <= right <= NODE_MASK):
        raise ValueError("a tree node is at most 252 bits")
    joined = (left << 260) | (right << 8)
    return joined >> 256, joined & (2**256 - 1)


def pack_root_pair(root: int, node_index: int) -> tuple[int, int]:
    """root(252) ‖ 0^4 ‖ nodeIdx(248) ‖ 0^8 as two words."""
    if not 0 <= node_index < 2**NODE_INDEX_BITS:
        raise ValueError("the node index is at most 248 bits")
    return pack_pair(root, node_index)


def unpack_pair(first: int, second: int) -> tuple[int, int]:
    """The verifier's reading of a pair: left = first >> 4, right = the next 252 bits (padding ignored)."""
    return first >> 4, ((first & 0xF) << 248) | (second >> 8)


def merkle_proof_words(position: Position, tree: SparsePositionTree) -> tuple[int, ...]:
    """The proof of ``position`` in ``tree``, in verifyEscape's word layout."""
    return merkle_proof_from_items(position_items(position), position.position_id, tree)


def merkle_proof_from_items(
    items: Sequence[int], position_id: int, tree: SparsePositionTree
) -> tuple[int, ...]:
    """The proof of the leaf hashing ``items`` at ``position_id``: also for items no Position allows
    (tests of the verifier's balance checks build such leaves)."""
    chain = hash_chain(items)
    path = tree.path(position_id)
    if path[0][position_id & 1] != chain[-1]:
        raise ValueError(f"position {position_id} is not the leaf the tree holds at its index")
    pairs = [(chain[index], item) for index, item in enumerate(items)]
    pairs.extend(path)
    words: list[int] = []
    for left, right in pairs:
        words.extend(pack_pair(left, right))
    words.extend(pack_root_pair(tree.root, position_id << len(items)))
    return tuple(words)


@dataclass(frozen=True)
class DecodedProof:
    """What a merkleProof says, read the verifier's way (no hash is checked here)."""

    position_id: int
    n_assets: int
    items: tuple[int, ...]
    chain: tuple[int, ...]
    path: tuple[tuple[int, int], ...]
    root: int
    node_index: int


def decode_merkle_proof(words: Sequence[int], n_assets: int) -> DecodedProof:
    if len(words) < 2 * (n_assets + 2) + 2 or len(words) % 2:
        raise ValueError("a merkleProof holds the hash chain's pairs and the root pair, in whole pairs")
    pairs = [unpack_pair(words[i], words[i + 1]) for i in range(0, len(words) - 2, 2)]
    root, node_index = unpack_pair(words[-2], words[-1])
    chain_length = n_assets + 2
    return DecodedProof(
        position_id=node_index >> chain_length,
        n_assets=n_assets,
        items=tuple(right for _, right in pairs[:chain_length]),
        chain=tuple(left for left, _ in pairs[:chain_length]),
        path=tuple(pairs[chain_length:]),
        root=root,
        node_index=node_index,
    )
