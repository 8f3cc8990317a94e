"""Run reference vectors through the same code paths `derive` and `sign` use.

Every field a vector carries is checked; a vector passes only if all of its fields do. The built-in set is
the kit's reference vectors computed with dYdX's own client (packaged as data/dydx-v3-vectors.json).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from dydx_airgap.offline.diagnostics.results import VectorResult
from dydx_airgap.offline.keys.cold_key import (
    ColdKey,
    DerivedAccount,
    derive_account,
    legacy_personal_sign_signature_matches,
    legacy_personal_sign_stark_key,
    stark_key_pair,
)
from dydx_airgap.shared.dydx_v3.api_auth import sign_api_request
from dydx_airgap.shared.dydx_v3.derivation import stark_private_key_from_signature
from dydx_airgap.shared.dydx_v3.eip712 import STARK_KEY_ACTION, onboarding_action_message, personal_sign_text
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.dydx_v3.vectors import (
    MAX_VECTORS_BYTES,
    Vector,
    hex_to_bytes,
    hex_to_int,
    parse_vectors,
)
from dydx_airgap.shared.errors import AirgapError
from dydx_airgap.shared.fsutil import read_untrusted_file
from dydx_airgap.shared.secret import Secret


def builtin_vectors_bytes() -> bytes:
    return resources.files("dydx_airgap.offline").joinpath("data/dydx-v3-vectors.json").read_bytes()


def load_vectors(path: Path | None) -> list[Vector]:
    data = builtin_vectors_bytes() if path is None else read_untrusted_file(path, cap=MAX_VECTORS_BYTES)
    return parse_vectors(data)


def _same_int(actual: int, expected: str, where: str) -> bool:
    return actual == hex_to_int(expected, where)


class _Checker:
    def __init__(self, vector: Vector) -> None:
        self.v = vector.fields
        self.name = vector.name
        self.chain_id: int = self.v["network_id"]
        self.result = VectorResult(vector.name)
        self._key: ColdKey | None = None
        self._derived: DerivedAccount | None = None

    def key(self) -> ColdKey:
        if self._key is None:
            raw = hex_to_bytes(self.v["eth_private_key"], f"{self.name}.eth_private_key")
            self._key = ColdKey(Secret(raw), source=f"vector {self.name}")
        return self._key

    def derived(self) -> DerivedAccount:
        if self._derived is None:
            self._derived = derive_account(self.key(), self.chain_id)
        return self._derived

    def check(self, name: str, test: Callable[[Any], bool]) -> None:
        if name not in self.v:
            return
        try:
            ok = bool(test(self.v[name]))
        except AirgapError:
            ok = False
        (self.result.passed_fields if ok else self.result.failed_fields).append(name)


def _check_candidates(c: _Checker, candidates: list[dict[str, str]]) -> bool:
    variants = c.derived().stark_key_variants()[:4]
    if len(candidates) != 4:
        return False
    sig = c.v.get("stark_key_signature")
    for (label, priv), expected in zip(variants, candidates, strict=True):
        del label
        # The candidate signature itself is a derivation secret: compare it only against the vector's.
        cand_sig = hex_to_bytes(expected["signature"], "candidate.signature")
        if stark_private_key_from_signature(cand_sig) != priv:
            return False
        if not _same_int(priv, expected["stark_private_key"], "candidate.stark_private_key"):
            return False
        if not _same_int(
            stark_key_pair(priv).public_key, expected["stark_public_key"], "candidate.stark_public_key"
        ):
            return False
    return not (sig is not None and candidates[0]["signature"] != sig)


def _check_legacy(c: _Checker, legacy: dict[str, str]) -> bool:
    text, priv = legacy_personal_sign_stark_key(c.key(), c.chain_id)
    expected_text = personal_sign_text(c.chain_id, onboarding_action_message(c.chain_id, STARK_KEY_ACTION))
    return (
        legacy["message"] == text == expected_text
        and legacy_personal_sign_signature_matches(
            c.key(), c.chain_id, hex_to_bytes(legacy["signature"], "legacy.signature")
        )
        and _same_int(priv, legacy["stark_private_key"], "legacy.stark_private_key")
    )


def _check_eth_private(c: _Checker, actions: list[dict[str, str]]) -> bool:
    if not actions:
        return False
    for a in actions:
        sig = c.key().sign_eth_private_action(
            c.chain_id, a["method"], a["request_path"], a["body"], a["timestamp"]
        )
        if sig.to_hex() != a["signature"].lower():
            return False
    return True


def _check_api_requests(c: _Checker, requests: list[dict[str, str]]) -> bool:
    secret = c.derived().api.secret.reveal()
    if not requests:
        return False
    for r in requests:
        mac = sign_api_request(secret, r["timestamp"], r["method"], r["request_path"], r["body"])
        if not hmac.compare_digest(mac, r["signature"]):
            return False
    return True


def check_vector(vector: Vector) -> VectorResult:
    c = _Checker(vector)
    if c.chain_id not in NETWORKS:
        c.result.failed_fields.append("network_id")
        return c.result
    c.result.passed_fields.append("network_id")
    c.check("eth_private_key", lambda _: c.key() is not None)
    c.check("ethereum_address", lambda v: c.key().address == v)
    c.check(
        "stark_key_signature",
        lambda v: c.derived().matches_stark_key_signature(hex_to_bytes(v, "stark_key_signature")),
    )
    c.check(
        "stark_private_key",
        lambda v: _same_int(c.derived().stark.private_key.reveal(), v, "stark_private_key"),
    )
    c.check("stark_public_key", lambda v: _same_int(c.derived().stark.public_key, v, "stark_public_key"))
    c.check(
        "stark_public_key_y_coordinate",
        lambda v: _same_int(c.derived().stark.public_key_y, v, "stark_public_key_y_coordinate"),
    )
    c.check(
        "dydx3_python_stark_private_key",
        lambda v: _same_int(dict(c.derived().stark_key_variants())[StarkKeyVariant.DYDX3_PYTHON], v, "dydx3"),
    )
    c.check("stark_key_candidates", lambda v: _check_candidates(c, v))
    c.check("legacy_personal_sign", lambda v: _check_legacy(c, v))
    c.check(
        "onboarding_signature",
        lambda v: c.derived().onboarding_signature_for_request().to_hex() == v.lower(),
    )
    c.check(
        "api_key",
        lambda v: (
            c.derived().api.key == v["key"]
            and c.derived().api.secret == Secret(v["secret"])
            and c.derived().api.passphrase == Secret(v["passphrase"])
        ),
    )
    c.check("eth_private_actions", lambda v: _check_eth_private(c, v))
    c.check("api_key_requests", lambda v: _check_api_requests(c, v))
    c.result.passed_fields.append("name")
    return c.result


def builtin_v4_vectors_bytes() -> bytes:
    return resources.files("dydx_airgap.offline").joinpath("data/dydx-v4-vectors.json").read_bytes()


def run_selftest(path: Path | None = None) -> list[VectorResult]:
    """The built-in v3 and v4 vectors, or one file of either format (told apart by its ``format``)."""
    from dydx_airgap.offline.diagnostics.v4_selftest import is_v4_vectors, run_v4_vectors

    if path is None:
        return [check_vector(v) for v in load_vectors(None)] + run_v4_vectors(builtin_v4_vectors_bytes())
    data = read_untrusted_file(path, cap=MAX_VECTORS_BYTES)
    if is_v4_vectors(data):
        return run_v4_vectors(data)
    return [check_vector(v) for v in parse_vectors(data)]
