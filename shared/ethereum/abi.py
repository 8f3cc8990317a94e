"""ABI words: the 32-byte slots every contract call and return value is made of, decoded strictly.

Strict means canonical: a return value of the wrong length or an address word with non-zero high bytes is
refused, because a node that answers that way is broken or lying about what the contract said.
"""

from __future__ import annotations

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address

WORD = 32
UINT256_MAX = 2**256 - 1


def uint_word(value: int) -> bytes:
    return value.to_bytes(WORD, "big")


def address_word(address: str) -> bytes:
    return bytes(12) + parse_address(address)


def word_int(word: bytes) -> int:
    return int.from_bytes(word, "big")


def split_words(args: bytes, count: int, what: str) -> list[bytes]:
    """Exactly ``count`` words, or a FormatError naming ``what``."""
    if len(args) != count * WORD:
        raise FormatError(f"{what} arguments must be exactly {count * WORD} bytes, got {len(args)}")
    return [args[i : i + WORD] for i in range(0, len(args), WORD)]


def address_from_word(word: bytes, what: str) -> str:
    if any(word[:12]):
        raise FormatError(f"the {what} word has non-zero high bytes (not a canonical address)")
    return to_checksum_address(word[12:])


def decode_uint256_result(data: bytes) -> int:
    """A function's single uint256 return value: exactly one 32-byte word."""
    return word_int(split_words(data, 1, "uint256 result")[0])


def decode_address_result(data: bytes) -> str:
    """A function's single address return value, in EIP-55 form."""
    return address_from_word(split_words(data, 1, "address result")[0], "returned address")
