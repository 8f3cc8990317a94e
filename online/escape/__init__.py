"""The dYdX v3 escape hatch, relay side: gather the proof and the chain's facts, broadcast in order.

``prepare`` writes one ``escape-request`` for the cold machine (the proof, the frozen contract's facts, the
verifyEscape / escape / withdraw transactions and any deposit cancel or reclaim); ``broadcast`` sends what
the cold key signed, one transaction at a time, each only once the chain shows the previous one's effect.
No private key is held here: the three calls are ordinary EIP-1559 transactions of the cold key.
"""
