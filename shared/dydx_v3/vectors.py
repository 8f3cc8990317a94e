"""Reader of the reference-vector format ``dydx-v3-vectors/1`` (kit: vectors/README.md).

A vector may carry any subset of the known fields; an unknown field is an error (a checker that skipped
fields it does not know would report a pass it did not earn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dydx_airgap.shared.canonical_json import loads_strict
from dydx_airgap.shared.errors import FormatError

FORMAT = "dydx-v3-vectors/1"
MAX_VECTORS_BYTES = 8 * 1024 * 1024

VECTOR_FIELDS = frozenset(
    {
        "name",
        "network_id",
        "eth_private_key",
        "ethereum_address",
        "stark_key_signature",
        "stark_private_key",
        "stark_public_key",
        "stark_public_key_y_coordinate",
        "dydx3_python_stark_private_key",
        "stark_key_candidates",
        "legacy_personal_sign",
        "onboarding_signature",
        "api_key",
        "eth_private_actions",
        "api_key_requests",
    }
)
REQUIRED = frozenset({"name", "network_id", "eth_private_key"})
_SUBFIELDS = {
    "stark_key_candidates": frozenset({"signature", "stark_private_key", "stark_public_key"}),
    "legacy_personal_sign": frozenset({"message", "signature", "stark_private_key"}),
    "api_key": frozenset({"key", "secret", "passphrase"}),
    "eth_private_actions": frozenset({"method", "request_path", "body", "timestamp", "signature"}),
    "api_key_requests": frozenset({"method", "request_path", "body", "timestamp", "signature"}),
}


@dataclass(frozen=True)
class Vector:
    name: str
    fields: dict[str, Any]


def _check_object(value: Any, keys: frozenset[str], where: str) -> None:
    if not isinstance(value, dict):
        raise FormatError(f"{where} must be an object")
    unknown = set(value) - keys
    if unknown:
        raise FormatError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
    missing = keys - set(value)
    if missing:
        raise FormatError(f"{where} lacks field(s): {', '.join(sorted(missing))}")
    for key in keys:
        if not isinstance(value[key], str):
            raise FormatError(f"{where}.{key} must be a string")


def parse_vectors(data: bytes) -> list[Vector]:
    doc = loads_strict(data, max_bytes=MAX_VECTORS_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"not a vectors file: expected an object with format {FORMAT!r}")
    unknown = set(doc) - {"format", "generated_by", "vectors"}
    if unknown:
        raise FormatError(f"vectors file has unknown field(s): {', '.join(sorted(unknown))}")
    items = doc.get("vectors")
    if not isinstance(items, list) or not items:
        raise FormatError("vectors file has no 'vectors' list")
    seen: set[str] = set()
    result: list[Vector] = []
    for i, item in enumerate(items):
        where = f"vectors[{i}]"
        if not isinstance(item, dict):
            raise FormatError(f"{where} must be an object")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise FormatError(f"{where} has no name")
        where = f"vector {name!r}"
        if name in seen:
            raise FormatError(f"{where} appears twice")
        seen.add(name)
        unknown = set(item) - VECTOR_FIELDS
        if unknown:
            raise FormatError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
        missing = REQUIRED - set(item)
        if missing:
            raise FormatError(f"{where} lacks field(s): {', '.join(sorted(missing))}")
        if isinstance(item["network_id"], bool) or not isinstance(item["network_id"], int):
            raise FormatError(f"{where}.network_id must be an integer")
        for key, value in item.items():
            if key in ("name", "network_id"):
                continue
            sub = _SUBFIELDS.get(key)
            if sub is None:
                if not isinstance(value, str):
                    raise FormatError(f"{where}.{key} must be a string")
            elif key in ("legacy_personal_sign", "api_key"):
                _check_object(value, sub, f"{where}.{key}")
            else:
                if not isinstance(value, list):
                    raise FormatError(f"{where}.{key} must be a list")
                for j, entry in enumerate(value):
                    _check_object(entry, sub, f"{where}.{key}[{j}]")
        result.append(Vector(name=name, fields=dict(item)))
    return result


def hex_to_int(text: str, where: str) -> int:
    body = text[2:] if text.startswith("0x") else text
    try:
        return int(body, 16)
    except ValueError:
        raise FormatError(f"{where} is not hex") from None


def hex_to_bytes(text: str, where: str) -> bytes:
    body = text[2:] if text.startswith("0x") else text
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise FormatError(f"{where} is not hex") from None
