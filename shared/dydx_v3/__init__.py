"""dYdX v3 (StarkEx) specifics: networks and contracts, the EIP-712 structs, STARK-key and API-credential
derivation from signatures, HMAC request auth, contract calldata, and the reference-vector format."""
