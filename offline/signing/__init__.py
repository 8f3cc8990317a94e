"""Signing what the relay asks for: dYdX v3 requests and timestamp ladders, L1 transactions, the
cold clock, and the sign commands."""
