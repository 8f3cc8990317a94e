"""Bytewords (BCR-2020-012): one four-letter English word per byte, with a CRC-32 tail.

Three styles share one dictionary: ``standard`` (words separated by spaces), ``uri`` (separated by
hyphens) and ``minimal`` (only the first and last letter of each word, no separator), which is what
URs carry. Every encoding ends with the four bytes of the big-endian CRC-32 of the body, so a decoder
notices a mistyped or misread word. The reference implementations use CRC-32 (the paper's older text
says SHA-256; the published test vectors settle it).
"""

from __future__ import annotations

import enum
import zlib

from dydx_airgap.shared.errors import FormatError

__all__ = ["WORDS", "Style", "crc32", "decode", "encode"]

# The dictionary, in byte order (0x00 = "able" ... 0xff = "zero"), as published in BCR-2020-012:
# 256 four-letter words written back to back, sixteen to a line.
_PACKED_WORDS = (
    "ableacidalsoapexaquaarchatomauntawayaxisbackbaldbarnbeltbetabias"  # 0x00
    "bluebodybragbrewbulbbuzzcalmcashcatschefcityclawcodecolacookcost"  # 0x10
    "cruxcurlcuspcyandarkdatadaysdelidicedietdoordowndrawdropdrumdull"  # 0x20
    "dutyeacheasyechoedgeepicevenexamexiteyesfactfairfernfigsfilmfish"  # 0x30
    "fizzflapflewfluxfoxyfreefrogfuelfundgalagamegeargemsgiftgirlglow"  # 0x40
    "goodgraygrimgurugushgyrohalfhanghardhawkheathelphighhillholyhope"  # 0x50
    "hornhutsicedideaidleinchinkyintoirisironitemjadejazzjoinjoltjowl"  # 0x60
    "judojugsjumpjunkjurykeepkenokeptkeyskickkilnkingkitekiwiknoblamb"  # 0x70
    "lavalazyleaflegsliarlistlimplionlogoloudloveluaulucklungmainmany"  # 0x80
    "mathmazememomenumeowmildmintmissmonknailnavyneednewsnextnoonnote"  # 0x90
    "numbobeyoboeomitonyxopenovalowlspaidpartpeckplaypluspoempoolpose"  # 0xa0
    "puffpumapurrquadquizraceramprealredorichroadrockroofrubyruinruns"  # 0xb0
    "rustsafesagascarsetssilkskewslotsoapsolosongstubsurfswantacotask"  # 0xc0
    "taxitenttiedtimetinytoiltombtoystriptunatwinuglyundouniturgeuser"  # 0xd0
    "vastveryvetovialvibeviewvisavoidvowswallwandwarmwaspwavewaxywebs"  # 0xe0
    "whatwhenwhizwolfworkyankyawnyellyogayurtzapszestzinczonezoomzero"  # 0xf0
)
WORDS: tuple[str, ...] = tuple(_PACKED_WORDS[i : i + 4] for i in range(0, len(_PACKED_WORDS), 4))

_CHECKSUM_LEN = 4

# The list is built so that the first+last letter pair is unique per word; minimal style relies on it.
_BYTE_OF_WORD: dict[str, int] = {word: value for value, word in enumerate(WORDS)}
_BYTE_OF_MINIMAL: dict[str, int] = {word[0] + word[3]: value for value, word in enumerate(WORDS)}


class Style(enum.Enum):
    """How the words are written out."""

    STANDARD = "standard"
    URI = "uri"
    MINIMAL = "minimal"


def crc32(data: bytes) -> int:
    """CRC-32 (ISO-HDLC, the zlib/PNG one) of ``data`` as an unsigned 32-bit integer."""
    return zlib.crc32(data) & 0xFFFFFFFF


def encode(data: bytes, style: Style = Style.MINIMAL) -> str:
    """Encode ``data`` followed by its CRC-32 as Bytewords in the given style (lower case)."""
    framed = bytes(data) + crc32(data).to_bytes(_CHECKSUM_LEN, "big")
    if style is Style.MINIMAL:
        return "".join(WORDS[b][0] + WORDS[b][3] for b in framed)
    separator = " " if style is Style.STANDARD else "-"
    return separator.join(WORDS[b] for b in framed)


def decode(text: str, style: Style = Style.MINIMAL) -> bytes:
    """Decode Bytewords (any letter case) and check the CRC-32 tail; return the body.

    Raises ``FormatError`` for an unknown word, a wrong length or a checksum mismatch. The body must
    hold at least one byte, as in the reference implementations.
    """
    if not text.isascii():
        raise FormatError("Bytewords text holds a non-ASCII character; re-read the QR code or file")
    lowered = text.lower()
    if style is Style.MINIMAL:
        if len(lowered) % 2:
            raise FormatError("minimal Bytewords text has an odd number of letters; it is truncated")
        tokens = [lowered[i : i + 2] for i in range(0, len(lowered), 2)]
        table = _BYTE_OF_MINIMAL
    else:
        tokens = lowered.split(" " if style is Style.STANDARD else "-")
        table = _BYTE_OF_WORD
    values = bytearray()
    for position, token in enumerate(tokens):
        value = table.get(token)
        if value is None:
            raise FormatError(f"Bytewords text has an unknown word at position {position + 1}; re-read it")
        values.append(value)
    if len(values) <= _CHECKSUM_LEN:
        raise FormatError("Bytewords text is too short to hold data and its checksum")
    body, tail = bytes(values[:-_CHECKSUM_LEN]), bytes(values[-_CHECKSUM_LEN:])
    if crc32(body).to_bytes(_CHECKSUM_LEN, "big") != tail:
        raise FormatError("Bytewords checksum mismatch: the text was misread or altered; re-read it")
    return body
