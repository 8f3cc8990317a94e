"""Canonical JSON: one byte string per value, so one payload has exactly one digest.

Encoding: sorted keys, no whitespace, UTF-8 (no ASCII escaping), integers only — floats are refused because
their text form is not unique. Decoding is strict and *requires canonical input*: a BOM, duplicate keys, NaN,
a float, trailing bytes, extra whitespace or another key order is an error rather than a second spelling
of the same payload.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dydx_airgap.shared.errors import FormatError

MAX_DEPTH = 12
MAX_INT_DIGITS = 80  # uint256 needs 78


def _scalar_text(text: str) -> None:
    """JSON may escape a lone surrogate (\\ud800); Python keeps it, and it cannot be UTF-8: refuse it here,
    as a format error, rather than as an encoding crash wherever the text is next written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError(_SURROGATE_MESSAGE) from None


def check_unicode_text(value: Any, depth: int = 0) -> None:
    """Every string and key in a decoded JSON value is valid Unicode (no lone surrogates); for decoders of
    outside JSON that is not canonical (API and node answers)."""
    if depth > MAX_DEPTH * 4:
        raise FormatError("JSON nests too deeply")
    if isinstance(value, str):
        _scalar_text(value)
    elif isinstance(value, list):
        for item in value:
            check_unicode_text(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_unicode_text(key, depth + 1)
            check_unicode_text(item, depth + 1)


#: The only way a decoded JSON string can hold a lone surrogate is an escape \\uD800-\\uDFFF (strict UTF-8
#: decoding refuses encoded surrogates); text without one needs no per-string check. A match that is not
#: really such an escape (an escaped backslash before "ud8…") only costs the full check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_MESSAGE = "JSON text holds a lone surrogate escape (like \\ud800), which is no character"


_INT_LIMIT = 10**MAX_INT_DIGITS  # |n| < 10^80: at most MAX_INT_DIGITS digits


def _check(value: Any, depth: int = 0, strings: bool = True) -> None:
    """Types, depth and integer sizes; and, when ``strings``, that no string holds a lone surrogate (the
    callers that can prove none is possible skip that, the costliest part, for large documents).

    Containers check their plain str, int, bool and None items in place rather than by a call each (the
    common case, and most of the cost in a batch of payloads); anything else, subclasses included, takes
    the general path below. Both give the same verdicts.
    """
    if depth > MAX_DEPTH:
        raise FormatError("JSON nests too deeply")
    kind = type(value)
    if kind is dict or kind is list:
        if value and depth + 1 > MAX_DEPTH:
            raise FormatError("JSON nests too deeply")
        if kind is dict:
            for key in value:
                if type(key) is not str and not isinstance(key, str):
                    raise FormatError("JSON object keys must be strings")
                if strings:
                    _scalar_text(key)
            items = value.values()
        else:
            items = value
        for item in items:
            item_kind = type(item)
            if item_kind is str:
                if strings:
                    _scalar_text(item)
            elif item_kind is int:
                if not -_INT_LIMIT < item < _INT_LIMIT:
                    raise FormatError("JSON integer is too large")
            elif item_kind is not bool and item is not None:
                _check(item, depth + 1, strings)
        return
    if isinstance(value, str):
        if strings:
            _scalar_text(value)
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_INT_DIGITS:
            raise FormatError("JSON integer is too large")
        return
    if isinstance(value, float):
        raise FormatError("floats are not allowed in payloads (amounts are decimal strings)")
    if isinstance(value, list):
        for item in value:
            _check(item, depth + 1, strings)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FormatError("JSON object keys must be strings")
            if strings:
                _scalar_text(key)
            _check(item, depth + 1, strings)
        return
    raise FormatError(f"value of type {type(value).__name__} cannot be encoded as payload JSON")


def dumps_checked(value: Any) -> bytes:
    """:func:`canonical_dumps` of a value already checked: one :func:`loads_strict` or
    :func:`canonical_loads` returned, or a part of one (a decoder re-encoding what it just parsed)."""
    return _dumps(value)


def canonical_dumps(value: Any) -> bytes:
    # Strings are not checked one by one: a lone surrogate reaches the text unescaped (ensure_ascii=False),
    # and encoding the whole text to UTF-8 refuses it as surely, at a fraction of the cost.
    _check(value, strings=False)
    return _dumps(value)


def _dumps(value: Any) -> bytes:
    """The canonical bytes of a value that has passed :func:`_check` (types, depth, integer sizes)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError(_SURROGATE_MESSAGE) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate JSON key {key[:40]!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise FormatError("floats are not allowed in payloads (amounts are decimal strings)")


def _no_constant(text: str) -> Any:
    raise FormatError(f"{text} is not allowed in JSON payloads")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise FormatError("JSON integer is too large")
    return int(text)


def loads_strict(data: bytes, *, max_bytes: int) -> Any:
    """Parse JSON bytes strictly (no BOM, duplicates, floats, NaN) without requiring canonical form."""
    if len(data) > max_bytes:
        raise FormatError(f"JSON is {len(data)} bytes, more than the {max_bytes}-byte limit")
    if data.startswith(b"\xef\xbb\xbf"):
        raise FormatError("JSON must not start with a byte-order mark")
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise FormatError("JSON is not valid UTF-8") from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_int=_int,
            parse_constant=_no_constant,
        )
    except RecursionError as exc:
        raise FormatError("JSON nests too deeply") from exc
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON: {exc.msg} at byte {exc.pos}") from exc
    _check(value, strings=_SURROGATE_ESCAPE.search(text) is not None)
    return value


def canonical_loads(data: bytes, *, max_bytes: int) -> Any:
    """Parse canonical JSON bytes; input that is valid JSON but not canonical is refused."""
    value = loads_strict(data, max_bytes=max_bytes)
    if _dumps(value) != data:  # loads_strict has checked the value: no second pass over it
        raise FormatError("JSON is not in canonical form (sorted keys, no spaces): it may have been edited")
    return value
