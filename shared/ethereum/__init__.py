"""Ethereum encodings with no key in them: addresses, Keccak, RLP, EIP-1559 transactions, ABI words,
EIP-191 and EIP-712 hashing, typed signatures and their strict verification. Both machines and the auditor
import it."""
