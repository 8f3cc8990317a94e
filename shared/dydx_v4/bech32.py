"""BIP-173 bech32 (the original checksum constant, not BIP-350's bech32m), strict in both directions.

Cosmos addresses are bech32 with an 8-bit payload regrouped into 5-bit characters. Every check BIP-173
names is enforced: character range of the human-readable part, one case throughout, the 90-character
limit, a six-character checksum, and a regrouping that neither invents nor drops bits (a decoder that
tolerated stray padding would accept two spellings of one address, and a review screen would show one of
them while the chain used the other).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dydx_airgap.shared.errors import FormatError, InputError

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHAR_VALUE = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
#: BIP-173's residue; BIP-350 (bech32m) uses 0x2BC830A3 and is deliberately not accepted here.
_BECH32_CONST = 1
MAX_LENGTH = 90
CHECKSUM_LENGTH = 6


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                chk ^= generator
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    # The checksum covers the HRP twice over: its high bits, a zero separator, then its low bits.
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _check_hrp(hrp: str) -> None:
    if not 1 <= len(hrp) <= MAX_LENGTH - 1 - CHECKSUM_LENGTH:
        raise InputError("bech32: the human-readable part must be 1 to 83 characters")
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise InputError("bech32: the human-readable part must be printable ASCII (33 to 126)")


def convert_bits(data: Sequence[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroup ``from_bits``-wide values into ``to_bits``-wide ones.

    ``pad=True`` (8 → 5, encoding) appends zero bits to fill the last group. ``pad=False`` (5 → 8,
    decoding) refuses what padding could explain away: leftover bits that would form a whole output
    group (more than 4 bits of padding), or padding bits that are not zero.
    """
    acc = 0
    bits = 0
    out: list[int] = []
    max_out = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise FormatError(f"bech32: value {value} does not fit in {from_bits} bits")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_out)
        acc &= (1 << bits) - 1  # keep only the bits not yet emitted, so acc stays small
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_out)
    elif bits >= from_bits:
        raise FormatError("bech32: more padding than one partial group (a non-canonical encoding)")
    elif acc:
        raise FormatError("bech32: non-zero padding bits (a non-canonical encoding)")
    return out


def encode_5bit(hrp: str, values: Sequence[int]) -> str:
    """Encode 5-bit ``values`` under ``hrp``; the result is lowercase (BIP-173's canonical case)."""
    _check_hrp(hrp)
    if hrp != hrp.lower():
        raise InputError("bech32: pass the human-readable part in lowercase")
    if any(not 0 <= v < 32 for v in values):
        raise InputError("bech32: data values must be 5-bit")
    poly = _polymod([*_hrp_expand(hrp), *values, 0, 0, 0, 0, 0, 0]) ^ _BECH32_CONST
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(CHECKSUM_LENGTH)]
    text = hrp + "1" + "".join(CHARSET[v] for v in [*values, *checksum])
    if len(text) > MAX_LENGTH:
        raise InputError(f"bech32: the result would be {len(text)} characters, over the {MAX_LENGTH} limit")
    return text


def decode_5bit(text: str) -> tuple[str, list[int]]:
    """Split and verify a bech32 string: (lowercase HRP, 5-bit data without the checksum)."""
    if not isinstance(text, str):
        raise FormatError("bech32: expected a string")
    if len(text) > MAX_LENGTH:
        raise FormatError(f"bech32: longer than {MAX_LENGTH} characters")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise FormatError("bech32: characters outside printable ASCII")
    if text != text.lower() and text != text.upper():
        raise FormatError("bech32: mixed case")
    text = text.lower()
    # The separator is the *last* '1': the HRP may itself contain '1', the data alphabet never does.
    sep = text.rfind("1")
    if sep < 1:
        raise FormatError("bech32: no human-readable part before the separator '1'")
    if len(text) - sep - 1 < CHECKSUM_LENGTH:
        raise FormatError("bech32: shorter than the 6-character checksum")
    hrp, data_part = text[:sep], text[sep + 1 :]
    try:
        values = [_CHAR_VALUE[c] for c in data_part]
    except KeyError as exc:
        raise FormatError(f"bech32: {exc.args[0]!r} is not a bech32 data character") from None
    if _polymod([*_hrp_expand(hrp), *values]) != _BECH32_CONST:
        raise FormatError("bech32: checksum mismatch (a mistyped or altered string)")
    return hrp, values[:-CHECKSUM_LENGTH]


def encode(hrp: str, payload: bytes) -> str:
    """bech32 of an 8-bit payload (how Cosmos addresses are written)."""
    return encode_5bit(hrp, convert_bits(payload, 8, 5, pad=True))


def decode(text: str, expected_hrp: str | None = None) -> tuple[str, bytes]:
    """(HRP, 8-bit payload) of ``text``; with ``expected_hrp`` any other HRP is refused."""
    hrp, values = decode_5bit(text)
    if expected_hrp is not None and hrp != expected_hrp:
        raise FormatError(f"bech32: prefix {hrp!r}, expected {expected_hrp!r}")
    return hrp, bytes(convert_bits(values, 5, 8, pad=False))
