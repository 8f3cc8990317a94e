"""Strict readers of a node's proto3 JSON answers: every value checked for its type before it is used.

The REST gateway renders protobuf in the proto3 JSON mapping: 64-bit integers as decimal *strings*, 32-bit
ones as numbers, bytes as standard base64, booleans as booleans. A node that answers otherwise is broken
or lying, and what it says decides the account number, sequence and fee the cold key signs — so a value
of the wrong shape is a :class:`MalformedAnswer` naming the field, never a guess and never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from dydx_airgap.shared.errors import RemoteError

UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
_UINT_TEXT = re.compile(r"0|[1-9][0-9]{0,19}")
_INT_TEXT = re.compile(r"0|-?[1-9][0-9]{0,77}")


class MalformedAnswer(RemoteError):
    """The node's answer is not what the endpoint returns; nothing computed from it may be used."""


def parse_document(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object of an answer (duplicate keys refused: a second value could hide behind the first)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise MalformedAnswer(f"{what}: the node's answer repeats a key")
        return dict(pairs)

    def no_constant(name: str) -> Any:
        raise MalformedAnswer(f"{what}: the node's answer contains {name}, which is not JSON")

    try:
        document = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedAnswer(f"{what}: the node's answer is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedAnswer(f"{what}: the node's answer is not a JSON object")
    return document


def obj(container: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    value = container.get(key)
    if not isinstance(value, dict):
        raise MalformedAnswer(f"{what}: {key} is missing or not an object")
    return value


def array(container: dict[str, Any], key: str, what: str) -> list[Any]:
    value = container.get(key)
    if not isinstance(value, list):
        raise MalformedAnswer(f"{what}: {key} is missing or not an array")
    return value


def text(container: dict[str, Any], key: str, what: str, *, limit: int = 4096) -> str:
    value = container.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise MalformedAnswer(f"{what}: {key} is missing or not a string")
    return value


def uint64(container: dict[str, Any], key: str, what: str) -> int:
    """A uint64 field: proto3 JSON writes it as a decimal string (a JSON number loses precision past 2^53)."""
    value = container.get(key)
    if not isinstance(value, str) or not _UINT_TEXT.fullmatch(value) or int(value) > UINT64_MAX:
        raise MalformedAnswer(f"{what}: {key} is not a uint64 decimal string")
    return int(value)


def uint32(container: dict[str, Any], key: str, what: str, *, default: int | None = None) -> int:
    """A uint32 field: a JSON number; absent means the proto3 default only where ``default`` is given."""
    if key not in container and default is not None:
        return default
    value = container.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise MalformedAnswer(f"{what}: {key} is not a uint32 number")
    return value


def big_int(container: dict[str, Any], key: str, what: str) -> int:
    """dYdX's serialised big integers (quantums): a signed decimal string."""
    value = container.get(key)
    if not isinstance(value, str) or not _INT_TEXT.fullmatch(value):
        raise MalformedAnswer(f"{what}: {key} is not a decimal integer string")
    return int(value)


def boolean(container: dict[str, Any], key: str, what: str) -> bool:
    value = container.get(key)
    if not isinstance(value, bool):
        raise MalformedAnswer(f"{what}: {key} is missing or not true/false")
    return value


def base64_bytes(container: dict[str, Any], key: str, what: str, *, limit: int = 1 << 20) -> bytes:
    value = container.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise MalformedAnswer(f"{what}: {key} is missing or not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise MalformedAnswer(f"{what}: {key} is not valid base64") from None
