"""The derivation firewall: nothing that arrives from outside may steer the key toward a derivation message.

Signing "dYdX STARK Key" *is* handing over the STARK private key (its hash is the key), and signing "dYdX
Onboarding" hands over the default API credentials. Our signer has no generic signing path, but a request
file, a QR payload or a relay-built transaction still carries strings; this module screens every string
value of anything that crosses into the cold machine and refuses it if it resembles a derivation template of
dYdX or of another venue — whatever the chain id, case, spacing, punctuation, field order, look-alike letters,
or whether it appears as text, pretty JSON, EIP-712 typed data, or a precomputed digest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from dydx_airgap.offline.review.decodings import decoded_layers
from dydx_airgap.offline.review.derivation_digests import carries_derivation_digest
from dydx_airgap.shared.errors import PolicyError

# Letters that render like Latin ones (Cyrillic, Greek, others). NFKC already folds full-width forms.
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "ԁ": "d",
        "е": "e",
        "һ": "h",
        "і": "i",
        "ј": "j",
        "к": "k",
        "ӏ": "l",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "ԛ": "q",
        "ѕ": "s",
        "т": "t",
        "у": "y",
        "х": "x",
        "ԝ": "w",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "γ": "y",
        "ѡ": "w",
        "ɑ": "a",
        "ɡ": "g",
        "ı": "i",
        "ȷ": "j",
        "ℓ": "l",
        "ꭰ": "d",
        # Latin small capitals and hooked letters, Lisu capitals: untouched by NFKC and NFKD.
        **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnoprstuvwyz", strict=True)),
        **dict(zip("ɗƙƴʂɖɓƈɠɦɱɲƥʈʋȥ", "dkysdbcghmnptvz", strict=True)),
        **dict(zip("ꓮꓐꓚꓓꓰꓝꓖꓧꓲꓙꓗꓡꓟꓠꓳꓑꓣꓢꓔꓴꓦꓪꓫꓬꓜ", "abcdefghijklmnoprstuvwxyz", strict=True)),
        "0": "o",
        "1": "l",
        "3": "e",
        "5": "s",
        "|": "l",
    }
)

#: Normalised fragments whose presence in any incoming string means "this is a derivation request".
_TEMPLATES = {
    "dydxstarkkey": "dYdX STARK Key (v3 STARK key derivation)",
    "dydxonboarding": "dYdX Onboarding (v3 API credential derivation)",
    "dydxchainonboarding": "dYdX Chain Onboarding (v4 key derivation)",
    # The early testnet template (domain "dYdX V4", action "dYdX V4 Onboarding"): digits fold away.
    "dydxvonboarding": "dYdX V4 Onboarding (early v4 testnet key derivation)",
    "starkkey": "STARK Key (a STARK key derivation message)",
    "immutablex": "Immutable X key derivation message",
    "onlysignon": "a dYdX onboarding message (onlySignOn)",
    "tradedydxexchange": "a dYdX onboarding message (trade.dydx.exchange)",
}


_ESCAPE = re.compile(r"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|&#x([0-9a-fA-F]{1,6});|&#(\d{1,7});")


_SIMPLE_ESCAPE = re.compile(r"\\[tnrbfv0/\"'\\]")


def _unescape(text: str) -> str:
    """Undo JSON/JS \\uXXXX, \\u{...} and HTML character escapes, which would otherwise hide letters."""

    def repl(m: re.Match[str]) -> str:
        hex_digits = m.group(1) or m.group(2) or m.group(3)
        code = int(hex_digits, 16) if hex_digits else int(m.group(4))
        return chr(code) if code < 0x110000 else ""

    return _SIMPLE_ESCAPE.sub(" ", _ESCAPE.sub(repl, text))


def normalise(text: str) -> str:
    """Fold escapes, case, compatibility forms and look-alikes, and drop everything but letters."""
    folded = unicodedata.normalize("NFKC", _unescape(text)).casefold()
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    folded = folded.translate(_CONFUSABLES)
    return "".join(c for c in folded if "a" <= c <= "z")


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 32:
        raise PolicyError("refused: the request nests too deeply to be screened")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


def find_derivation_template(value: Any, *, include_keys: bool = True) -> str | None:
    """Name the derivation template ``value`` resembles, or None.

    Each string is screened in every decoded layer (decodings.py), and so is the concatenation of all of
    them, so a template split across fields or array items is seen whole."""
    texts = list(_strings(value) if include_keys else _values_only(value))
    for text in [*texts, "".join(texts)]:
        for layer in decoded_layers(text):
            folded = normalise(layer)
            for fragment, name in _TEMPLATES.items():
                if fragment in folded:
                    return name
            if carries_derivation_digest(layer):
                return "a precomputed dYdX derivation digest"
    return None


def _values_only(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 32:
        raise PolicyError("refused: the request nests too deeply to be screened")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _values_only(v, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _values_only(item, depth + 1)


def screen(value: Any, *, where: str, include_keys: bool = True) -> None:
    """Refuse (PolicyError) anything that looks like a derivation request."""
    found = find_derivation_template(value, include_keys=include_keys)
    if found is not None:
        raise PolicyError(
            f"refused {where}: it resembles {found}. Derivation messages are signed only by 'derive' and "
            "'sign onboarding'; a request that asks for one is an attempt to extract your keys"
        )
