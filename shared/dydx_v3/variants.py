"""The six ways a dYdX v3 STARK private key was derived from an Ethereum key (spec dydx-v3.md §4.3-§4.5).

An account is bound to the STARK key its client registered, and clients and wallets disagreed on the bytes
they hashed: the web app hashed the typed signature as the wallet returned it (some wallets return v as
00/01, some sign through a method that sets type byte 03), the legacy flow hashed a personal_sign signature,
and dydx-v3-python re-hexed the signature as an integer. The same Ethereum key therefore has up to six STARK
keys on one network, and only one of them holds the account's funds.

This module names the variants (the names are the ``--variant`` values and what ``recover`` prints) and
turns *signatures* into the variant's private key. It never sees an Ethereum key: producing the signatures
is the cold side's job.
"""

from __future__ import annotations

import enum

from dydx_airgap.shared.dydx_v3.derivation import (
    dydx3_python_stark_private_key,
    stark_key_signature_candidates,
    stark_private_key_from_signature,
)
from dydx_airgap.shared.errors import InputError


class StarkKeyVariant(enum.Enum):
    """One derivation rule. ``value`` is the name users type and see."""

    WEB_APP = "web-app"
    V_ROTATED = "v-rotated"
    TYPE_ROTATED = "type-rotated"
    BOTH_ROTATED = "both-rotated"
    LEGACY_PERSONAL_SIGN = "legacy-personal-sign"
    DYDX3_PYTHON = "dydx3-python"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def needs_personal_signature(self) -> bool:
        """Only the legacy variant hashes a personal_sign signature instead of the EIP-712 one."""
        return self is StarkKeyVariant.LEGACY_PERSONAL_SIGN

    @property
    def flag(self) -> str:
        return f"--variant {self.value}"


DEFAULT_VARIANT = StarkKeyVariant.WEB_APP

_DESCRIPTIONS = {
    StarkKeyVariant.WEB_APP: "the web app's key: EIP-712 signature as signed (dYdX's default)",
    StarkKeyVariant.V_ROTATED: "web app, with a wallet that returned v as 00/01 (or 1b/1c rotated)",
    StarkKeyVariant.TYPE_ROTATED: "web app, with the signature type byte rotated (00 <-> 03)",
    StarkKeyVariant.BOTH_ROTATED: "web app, with both v and the type byte rotated",
    StarkKeyVariant.LEGACY_PERSONAL_SIGN: "web app's legacy signing: personal_sign of the JSON text",
    StarkKeyVariant.DYDX3_PYTHON: "dydx-v3-python: the signature hashed as a re-hexed integer",
}

#: The four web-app candidates, in the order stark_key_signature_candidates returns them.
_CANDIDATE_ORDER = (
    StarkKeyVariant.WEB_APP,
    StarkKeyVariant.V_ROTATED,
    StarkKeyVariant.TYPE_ROTATED,
    StarkKeyVariant.BOTH_ROTATED,
)

ALL_VARIANTS: tuple[StarkKeyVariant, ...] = tuple(StarkKeyVariant)
VARIANT_NAMES: tuple[str, ...] = tuple(v.value for v in StarkKeyVariant)


def parse_variant(text: str) -> StarkKeyVariant:
    """A variant from its name; an unknown name is an error that lists the known ones."""
    name = text.strip().lower()
    for variant in StarkKeyVariant:
        if variant.value == name:
            return variant
    shown = name if name.isascii() and name.isprintable() and len(name) <= 40 else "that value"
    raise InputError(f"unknown key variant {shown!r}: use one of {', '.join(VARIANT_NAMES)}")


def stark_private_key_for_variant(
    variant: StarkKeyVariant, typed_signature: bytes, personal_signature: bytes | None = None
) -> int:
    """The variant's STARK private key from the "dYdX STARK Key" signature(s).

    ``typed_signature`` is the EIP-712 typed signature (r ‖ s ‖ v ‖ 00); ``personal_signature`` is the
    personal_sign typed signature (r ‖ s ‖ v ‖ 03), needed by the legacy variant only.
    """
    if variant is StarkKeyVariant.LEGACY_PERSONAL_SIGN:
        if personal_signature is None:
            raise InputError("the legacy-personal-sign variant needs the personal_sign signature")
        return stark_private_key_from_signature(personal_signature)
    if variant is StarkKeyVariant.DYDX3_PYTHON:
        return dydx3_python_stark_private_key(typed_signature)
    candidates = stark_key_signature_candidates(typed_signature)
    return stark_private_key_from_signature(candidates[_CANDIDATE_ORDER.index(variant)])


def all_variant_private_keys(typed_signature: bytes, personal_signature: bytes) -> list[int]:
    """Every variant's private key, in ALL_VARIANTS order (what recover compares)."""
    return [stark_private_key_for_variant(v, typed_signature, personal_signature) for v in ALL_VARIANTS]
