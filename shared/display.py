"""Showing untrusted text to a person: control, bidi and invisible characters escaped.

A review screen that printed a right-to-left override or a carriage return verbatim could show one thing
while the bytes say another (kit spec/security.md, check 15). Everything printable and visible passes
through; everything else becomes a visible ``\\u{...}`` escape.
"""

from __future__ import annotations

import unicodedata

# Bidi embedding/override/isolate controls and other invisible format characters worth naming.
_ALWAYS_ESCAPE = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u061c", "\u180e"]
)


def escape_for_display(text: str, max_len: int = 400) -> str:
    shown = text[:max_len]
    if shown.isascii() and shown.isprintable():
        # Printable ASCII (0x20-0x7e) holds no control, format or bidi character: only the backslash is
        # escaped. The common case, and an audit prints thousands of lines.
        out = [shown.replace("\\", "\\\\")]
        if len(text) > max_len:
            out.append(f"…(+{len(text) - max_len} characters)")
        return "".join(out)
    out = []
    for ch in text[:max_len]:
        category = unicodedata.category(ch)
        if ch in _ALWAYS_ESCAPE or category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or ch == "\\":
            out.append("\\\\" if ch == "\\" else f"\\u{{{ord(ch):04x}}}")
        else:
            out.append(ch)
    if len(text) > max_len:
        out.append(f"…(+{len(text) - max_len} characters)")
    return "".join(out)


def has_hidden_characters(text: str) -> bool:
    return escape_for_display(text, max_len=len(text) + 1) != text.replace("\\", "\\\\")
