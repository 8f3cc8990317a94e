"""The dYdX v3 escape hatch on the local rehearsal chain: fixtures, freezing, and the explorer stand-in.

Everything here is this package's own implementation of the formats of spec escape-hatch.md §A5
(position leaf, sparse height-64 Pedersen tree, merkleProof words, shared-state words, program output):
it never imports the relay's or the cold side's escape code, so the stand-in contracts and that code are
two independent readings of the spec, checked against each other by tests.

* ``build_escape_state`` (fixtures.py): positions, funding, prices → shared-state words and one
  merkleProof per position; ``mainnet_position_1`` is the real mainnet vector.
* ``freeze.py``: put a running local chain into escape mode the way mainnet got there (a state update
  whose program output carries the state, an unserviced forced withdrawal, 14 days, freezeRequest).
* ``explorer.py``: the pages of the L2BEAT StarkEx Explorer a relay reads (``/explorer/escape/<id>``,
  ``/explorer/proof/<id>``), served by ``serve-chain``.
"""

from dydx_airgap.online.rehearsal.escape.fixtures import (
    EscapeState,
    MainnetVector,
    build_escape_state,
    mainnet_position_1,
    synthetic_market,
    synthetic_positions,
    synthetic_stark_key,
)
from dydx_airgap.online.rehearsal.escape.leaf import AssetBalance, Position

__all__ = [
    "AssetBalance",
    "EscapeState",
    "MainnetVector",
    "Position",
    "build_escape_state",
    "mainnet_position_1",
    "synthetic_market",
    "synthetic_positions",
    "synthetic_stark_key",
]
