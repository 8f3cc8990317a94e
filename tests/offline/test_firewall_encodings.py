"""Finding 10(a): look-alike and encoded forms of a derivation template that passed the firewall — other
scripts' letters, an escaped surrogate pair, percent-encoding, nested and JSON forms, the digest for chain
ids beyond the known networks, and the digest as base64, base64url and decimal — are all refused."""

from __future__ import annotations

import base64
import json

from dydx_airgap.offline.review.firewall import find_derivation_template
from dydx_airgap.shared.dydx_v3.eip712 import STARK_KEY_ACTION, onboarding_action_digest


def _variants() -> dict[str, object]:
    polygon = onboarding_action_digest(137, STARK_KEY_ACTION)
    arbitrum = onboarding_action_digest(42161, STARK_KEY_ACTION)
    return {
        "Cyrillic capitals": {"action": "dYd\u0425 \u0405\u0422\u0410R\u041a \u041a\u0435\u0443"},
        "Latin small capitals and hooks": {
            "action": "\u0257Y\u0257X \ua731\u1d1b\u1d00\u0280\u1d0b \u1d0b\u1d07\u028f"
        },
        "Lisu capitals": {"action": "\ua4d3Y\ua4d3X \ua4e2\ua4d4\ua4ee\ua4e3\ua4d7 \ua4d7\ua4f0\ua4ec"},
        "escaped surrogate pair": {"action": "\\ud835\\udc1dYdX STARK Key"},
        "percent-encoding": {"action": "dYdX%20%53TARK%20Key"},
        "double percent-encoding": {"action": "dYdX%2520%2553TARK%2520Key"},
        "percent-encoded JSON escape": {"action": "dYdX %5Cu0053TARK Key"},
        "JSON array in a string": {"note": json.dumps(list("dYdX STARK Key"))},
        "split across list items": {"parts": ["dY", "dX S", "TA", "RK K", "ey"]},
        "digest for chain id 137": {"hash": "0x" + polygon.hex()},
        "digest for chain id 42161": {"hash": arbitrum.hex()},
        "digest as base64": {"hash": base64.b64encode(polygon).decode()},
        "digest as base64url": {"hash": base64.urlsafe_b64encode(arbitrum).decode().rstrip("=")},
        "digest as decimal": {"hash": str(int.from_bytes(polygon, "big"))},
    }


def test_encoded_and_look_alike_templates_are_refused(figure) -> None:
    variants = _variants()
    passed = [name for name, value in variants.items() if find_derivation_template(value) is None]
    figure(
        f"firewall: look-alike and encoded derivation templates refused in {len(variants) - len(passed)} of "
        f"{len(variants)}"
    )
    assert not passed, passed


def test_ordinary_request_text_still_passes() -> None:
    ordinary = {
        "action": "api-key-create",
        "request_path": "/v3/api-keys?apiKey=50fdcaa0-62b8-e827-02e8-a9520d46cb9f",
        "body": "{}",
        "note": "fees at 100%25 of the quote, see https://example.org/a%20b?x=1&amp;y=2",
        "tx": "0x" + "ab" * 200,
        "amount": "1250.50",
        "timestamp": "2026-01-01T00:00:00.000Z",
    }
    assert find_derivation_template(ordinary, include_keys=False) is None
