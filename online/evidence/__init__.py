"""The relay's half of the evidence: its Ed25519 key and the signed receipts it adds to a bundle."""
