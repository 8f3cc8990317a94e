"""The cold half of the evidence: the hash-chained log and the signed bundle."""
