"""Argument checks shared by the STARK modules.

cairo-lang checks its inputs with ``assert``, which disappears under ``python -O`` and surfaces as a
bare AssertionError. We run the same checks unconditionally and raise the project's typed errors.
Messages name the rule, never the value: it may be a private key.
"""

from __future__ import annotations

from collections.abc import Sequence

from dydx_airgap.shared.errors import AirgapError, InputError
from dydx_airgap.shared.stark.constants import EC_ORDER, FIELD_PRIME, ECPoint


def require_int(value: object, what: str, error: type[AirgapError] = InputError) -> int:
    """Return ``value`` if it is a plain int; bool is refused because True would silently mean 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer, not {type(value).__name__}")
    return value


def require_range(
    value: object, low: int, high: int, what: str, rule: str, error: type[AirgapError] = InputError
) -> int:
    """Return ``value`` if it is an int with low <= value < high; ``rule`` states that range in words."""
    number = require_int(value, what, error)
    if not low <= number < high:
        raise error(f"{what} {rule}; check that the right value was passed")
    return number


def require_private_key(value: object) -> int:
    """A STARK private key: an int in [1, EC_ORDER)."""
    return require_range(value, 1, EC_ORDER, "STARK private key", "must be in [1, EC_ORDER)")


def require_field_pair(value: object, what: str) -> ECPoint:
    """Return (x, y) from a 2-sequence of field elements (cairo-lang passes lists as well as tuples)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(f"{what} must be an (x, y) pair of integers")
    rule = "must be below FIELD_PRIME"
    return (
        require_range(value[0], 0, FIELD_PRIME, f"{what} x coordinate", rule),
        require_range(value[1], 0, FIELD_PRIME, f"{what} y coordinate", rule),
    )
