"""STARK curve arithmetic and signatures, mirroring cairo-lang's starkware.crypto.signature API."""
