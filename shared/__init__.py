"""Pure, key-free code used by both the cold signer and the relay.

Nothing in this package holds an Ethereum or STARK private key or opens a socket; the import
contracts in pyproject.toml enforce that.
"""

__version__ = "0.1.0"
