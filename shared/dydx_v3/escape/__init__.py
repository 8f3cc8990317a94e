"""The dYdX v3 escape hatch, key-free: proofs, the verifier, the withdrawal amount, calldata, data sources.

dYdX v3's StarkPerpetual is frozen; a position's USDC leaves it through ``verifyEscape`` on the escape
verifier, ``escape`` and ``withdraw`` (spec escape-hatch.md §A3). Everything here is public data: the cold
side, the relay and ``dydx-audit escape-proof`` run the same verifier on the same words.

- ``verifier``: the PerpetualEscapeVerifier's checks in the compiled contract's order, its revert reasons,
  the amount formula, the fact.
- ``state``: the shared-state words, decoded for people (funding and price tables, timestamps).
- ``calldata``: the escape hatch's contract calls, encoded and strictly decoded.
- ``sources``: the explorer's escape page (``data-props``), the vector file shape, and the last
  ``updateState`` call's program output, each turned into checked words.
"""
