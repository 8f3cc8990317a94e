"""A container for secret values whose repr, str and format never show the value.

Python cannot wipe memory (strings and ints are immutable and copied freely); this type only makes sure a
secret cannot leak through a log line, an exception message or a traceback's locals by accident.
"""

from __future__ import annotations

from typing import Generic, NoReturn, TypeVar

T = TypeVar("T")


class Secret(Generic[T]):
    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def reveal(self) -> T:
        """The value itself. Call sites are easy to grep: every one should need it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<redacted>"

    def __eq__(self, other: object) -> bool:
        import hmac

        if not isinstance(other, Secret):
            return NotImplemented
        a, b = self._value, other._value
        if isinstance(a, bytes | str) and isinstance(b, bytes | str) and type(a) is type(b):
            ab = a.encode() if isinstance(a, str) else a
            bb = b.encode() if isinstance(b, str) else b
            return hmac.compare_digest(ab, bb)
        return bool(a == b)

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("secrets are not picklable")
