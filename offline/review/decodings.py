"""The encodings an incoming string may wear, peeled off layer by layer before the firewall looks at it.

A derivation template can hide behind escapes that a later consumer (a browser, a JSON parser, a wallet)
would undo: JSON/JS ``\\uXXXX`` escapes (including surrogate pairs, which encode letters outside the BMP
such as mathematical bold ``𝐝``), ``\\u{...}`` and ``\\xNN``, HTML character references, URL
percent-encoding, and a JSON document inside a string (whose strings are joined, so a template split
across members or array items is seen whole). Each decoding is applied repeatedly, up to ``MAX_LAYERS``
times, so nested encodings (percent-encoded JSON escapes, say) are undone too; the firewall screens every
layer.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

MAX_LAYERS = 6
_MAX_TEXT = 1 << 20

_SURROGATE_PAIR = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_ESCAPE = re.compile(r"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
_SIMPLE_ESCAPE = re.compile(r"\\[tnrbfv0/\"'\\]")
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2})+")


def _pair(m: re.Match[str]) -> str:
    high, low = int(m.group(1), 16), int(m.group(2), 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _code(m: re.Match[str]) -> str:
    digits = m.group(1) or m.group(2) or m.group(3)
    code = int(digits, 16)
    # A lone surrogate is no letter: drop it rather than let it split a word.
    return chr(code) if code < 0x110000 and not 0xD800 <= code <= 0xDFFF else ""


def _percent(m: re.Match[str]) -> str:
    raw = bytes(int(m.group(0)[i + 1 : i + 3], 16) for i in range(0, len(m.group(0)), 3))
    return raw.decode("utf-8", errors="replace")


def _json_strings(value: Any, out: list[str], depth: int = 0) -> None:
    if depth > 32:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            _json_strings(v, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_strings(item, out, depth + 1)


def _embedded_json(text: str) -> str:
    stripped = text.strip()
    if not stripped or stripped[0] not in '[{"' or len(stripped) > _MAX_TEXT:
        return text
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return text
    parts: list[str] = []
    _json_strings(value, parts)
    return "".join(parts) if parts else text


def decode_once(text: str) -> str:
    text = _SURROGATE_PAIR.sub(_pair, text)
    text = _ESCAPE.sub(_code, text)
    text = _SIMPLE_ESCAPE.sub(" ", text)
    text = html.unescape(text)
    text = _PERCENT.sub(_percent, text)
    return _embedded_json(text)


def decoded_layers(text: str) -> list[str]:
    """``text`` and each further decoding of it, until nothing changes (at most ``MAX_LAYERS``)."""
    layers = [text]
    for _ in range(MAX_LAYERS):
        following = decode_once(layers[-1])
        if following == layers[-1]:
            break
        layers.append(following)
    return layers
