"""dYdX v4 (dYdX Chain, a Cosmos SDK chain): the key-free primitives both sides share.

Everything here is pure and holds no secret: bech32 addresses, the protobuf wire format of the few
messages a cold key signs, the SIGN_MODE_DIRECT sign bytes, signature verification, authenticator trees
and the EIP-712 onboarding digest. Signing lives on the cold side (``offline/v4_account.py``).
Facts and byte layouts: ``spec/dydx-v4.md`` of the kit.
"""
