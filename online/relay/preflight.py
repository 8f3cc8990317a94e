"""Everything the relay verifies before it sends a byte (security.md T1, T3, T8).

A payload from the cold machine crossed a USB stick or a camera; the relay trusts none of it. It checks the
envelope (strict canonical decoding), that the kind is one it submits, that the network is the one the
operator named, the address's checksum, every signature for that chain id and address, and the expiry.
For onboarding it also checks that the JSON body it will send carries exactly the STARK key the payload
names, and that this key is a point of the STARK curve.

Limit, stated plainly: dYdX's onboarding signature covers only the action string, not the STARK key, so a
consistent swap of the key in both the body and the payload fields cannot be detected here; only a signed
evidence record from the cold side could bind the key to the signer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dydx_airgap.online.relay.ladder import Rung, rungs_of
from dydx_airgap.shared.canonical_json import loads_strict
from dydx_airgap.shared.dydx_v3.networks import NETWORKS, Network
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature, verify_onboarding_signature
from dydx_airgap.shared.errors import AirgapError, FormatError, InputError, PolicyError, SignatureError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.stark.constants import FIELD_PRIME
from dydx_airgap.shared.stark.curve import is_point_on_curve
from dydx_airgap.shared.timestamps import now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import Payload, decode_payload

SUBMITTABLE_KINDS = ("onboarding-request", "eth-private-request")
ONBOARDING = "onboarding"
#: Fields the onboarding body may carry besides the key (dYdX's optional onboarding inputs).
_OPTIONAL_ONBOARDING_FIELDS = frozenset({"referredByAffiliateLink", "country"})
_MAX_BODY_BYTES = 2048


@dataclass(frozen=True)
class CheckedRequest:
    """A payload that passed every check, reduced to what the relay needs to send it."""

    payload: Payload
    network: Network
    address: str  # EIP-55
    action: str  # "onboarding", "api-key-create", "api-key-delete" or "recovery"
    method: str
    request_path: str
    body_text: str
    rungs: tuple[Rung, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    # The onboarding signature seeds the default API secret (spec §9): held redacted.
    onboarding_signature: Secret[str] | None = None
    stark_public_key: int | None = None

    @property
    def idempotent(self) -> bool:
        """Only the recovery read may be repeated freely."""
        return self.action == "recovery"

    @property
    def api_key_to_delete(self) -> str | None:
        if self.action != "api-key-delete":
            return None
        return self.request_path.split("apiKey=", 1)[1]

    def request_keys(self, origin: str) -> tuple[str, ...]:
        """Journal keys meaning "this same request": the payload digest, and each signature it carries.

        The same onboarding signature in another envelope, or a ladder re-wrapped with a new id, is the
        same request to the server and must be recognised as such. Keys are per API origin.
        """
        keys = [f"{origin}|payload|{self.payload.digest.hex()}"]
        if self.onboarding_signature is not None:
            rs = self.onboarding_signature.reveal()[2:130]
            # Hashed: the journal must not hold the seed of the default API secret.
            tag = hashlib.sha256(f"{self.network.chain_id}|{self.address.lower()}|{rs}".encode()).hexdigest()
            keys.append(f"{origin}|onboarding|{tag}")
        for rung in self.rungs:
            keys.append(f"{origin}|eth-private|{self.network.chain_id}|{rung.signature[2:130]}")
        return tuple(keys)


def _refuse(payload: Payload, error: AirgapError) -> AirgapError:
    """Re-raise a check failure with the payload's fingerprint and the reassurance that nothing was sent."""
    return type(error)(f"payload {payload.fingerprint} refused, nothing was sent: {error.message}")


def _hex_int(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or not 3 <= len(value) <= 66:
        raise FormatError(f"onboarding body: {name} must be 0x-prefixed hex")
    try:
        return int(value[2:], 16)
    except ValueError as exc:
        raise FormatError(f"onboarding body: {name} must be 0x-prefixed hex") from exc


def _check_onboarding_body(body: dict[str, Any]) -> int:
    text = body["body"]
    parsed = loads_strict(text.encode("utf-8"), max_bytes=_MAX_BODY_BYTES)
    if not isinstance(parsed, dict):
        raise FormatError("onboarding body must be a JSON object")
    unknown = set(parsed) - {"starkKey", "starkKeyYCoordinate"} - _OPTIONAL_ONBOARDING_FIELDS
    if unknown:
        raise FormatError(f"onboarding body has unexpected field(s): {', '.join(sorted(unknown))[:80]}")
    for name in _OPTIONAL_ONBOARDING_FIELDS & set(parsed):
        if not isinstance(parsed[name], str) or not parsed[name].isascii() or len(parsed[name]) > 64:
            raise FormatError(f"onboarding body: {name} must be a short ASCII string")
    x = _hex_int(parsed.get("starkKey"), "starkKey")
    y = _hex_int(parsed.get("starkKeyYCoordinate"), "starkKeyYCoordinate")
    if x != int(body["stark_public_key"], 16) or y != int(body["stark_public_key_y"], 16):
        raise PolicyError(
            "the STARK key in the onboarding body differs from the payload's stark_public_key: "
            "the payload was edited"
        )
    if not (0 < x < FIELD_PRIME and 0 <= y < FIELD_PRIME) or not is_point_on_curve(x, y):
        raise PolicyError("the onboarding STARK key is not a point of the STARK curve")
    return x


def check_payload(data: bytes, network: Network, *, now: datetime | None = None) -> CheckedRequest:
    """Decode and verify payload bytes for submission on ``network``; raise a typed error otherwise."""
    payload = decode_payload(data)
    if payload.kind not in SUBMITTABLE_KINDS:
        raise InputError(
            f"a {payload.kind} payload is not something to submit "
            f"(the relay submits {' and '.join(SUBMITTABLE_KINDS)})"
        )
    try:
        return _check(payload, network, now or now_utc())
    except AirgapError as error:
        raise _refuse(payload, error) from None


def _check(payload: Payload, network: Network, now: datetime) -> CheckedRequest:
    if payload.network_id != network.chain_id:
        named = NETWORKS[payload.network_id].label if payload.network_id in NETWORKS else payload.network_id
        raise PolicyError(f"it is for {named}, but --network is {network.label}")
    if payload.address is None:
        raise FormatError("it names no Ethereum address")
    parse_address(payload.address)
    if payload.address != to_checksum_address(payload.address):
        raise FormatError("its address is not in EIP-55 checksum case")
    address = payload.address
    if payload.is_expired(now):
        raise PolicyError(f"it expired at {payload.expires}; sign a new one")
    body = dict(payload.body)
    if payload.kind == "onboarding-request":
        stark_key = _check_onboarding_body(body)
        try:
            verify_onboarding_signature(network.chain_id, body["signature"], address)
        except SignatureError as exc:
            raise SignatureError(f"{exc.message} on {network.label}") from None
        return CheckedRequest(
            payload=payload,
            network=network,
            address=address,
            action=ONBOARDING,
            method=body["method"],
            request_path=body["request_path"],
            body_text=body["body"],
            onboarding_signature=Secret(body["signature"]),
            stark_public_key=stark_key,
        )
    rungs = rungs_of(body)
    for rung in rungs:
        try:
            verify_eth_private_signature(
                network.chain_id,
                body["method"],
                body["request_path"],
                body["body"],
                rung.timestamp,
                rung.signature,
                address,
            )
        except SignatureError as exc:
            raise SignatureError(
                f"rung {rung.index} ({rung.timestamp}): {exc.message} on {network.label}"
            ) from None
    return CheckedRequest(
        payload=payload,
        network=network,
        address=address,
        action=body["action"],
        method=body["method"],
        request_path=body["request_path"],
        body_text=body["body"],
        rungs=rungs,
        valid_from=parse_iso_ms(body["valid_from"]),
        valid_until=parse_iso_ms(body["valid_until"]),
    )
