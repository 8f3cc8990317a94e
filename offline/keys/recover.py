"""`recover`: find which derivation variant produced a registered STARK key.

Wallets and clients differed (spec dydx-v3.md §4.3-§4.5): the web app's four candidates, the legacy
personal-sign flow, and dydx-v3-python's leading-zero quirk. Given the STARK public key dYdX has on record,
try them all and say which one matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.offline.keys.cold_key import (
    ColdKey,
    derive_account,
    legacy_personal_sign_stark_key,
    stark_key_pair,
)


@dataclass(frozen=True)
class VariantResult:
    label: str
    public_key: int
    matches: bool


def try_all_variants(key: ColdKey, chain_id: int, target_public_key: int) -> list[VariantResult]:
    account = derive_account(key, chain_id)
    variants = list(account.stark_key_variants())
    _, legacy_private = legacy_personal_sign_stark_key(key, chain_id)
    variants.append(("legacy personal-sign", legacy_private))
    results = []
    for label, private in variants:
        public = stark_key_pair(private).public_key
        results.append(VariantResult(label, public, public == target_public_key))
    return results
