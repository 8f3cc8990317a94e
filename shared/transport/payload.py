"""The one envelope for everything that crosses the air gap, in either direction.

A payload is canonical JSON (see canonical_json.py) with a fixed set of envelope fields, a body whose shape
depends on ``kind``, and a ``seal`` (SHA-256 of everything else) that turns any alteration into an error.
Unknown kinds, versions or fields are refused, so a newer or forged file cannot smuggle data past a
reviewer. The SHA-256 of the canonical bytes is the payload's digest; its first four bytes, shown as
``xxxx-xxxx``, are the fingerprint both machines display for the operator to compare.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dydx_airgap.shared.canonical_json import canonical_dumps, canonical_loads, dumps_checked
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.errors import FormatError, InputError, SignatureError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.timestamps import iso_ms, now_utc, parse_iso_ms
from dydx_airgap.shared.transport.kinds import KINDS, ORIGIN_SIGNED_KINDS
from dydx_airgap.shared.transport.origin import verify_origin

FORMAT = "dydx-airgap/1"
MAX_PAYLOAD_BYTES = 64 * 1024

ENVELOPE_FIELDS = frozenset(
    {
        "format",
        "kind",
        "id",
        "network_id",
        "address",
        "created",
        "expires",
        "answers",
        "body",
        "origin",
        "seal",
    }
)
#: Signs a payload's content digest for its network and address; returns a typed signature (hex).
OriginSigner = Callable[[int, str, bytes], str]

_ID = re.compile(r"[0-9a-f]{32}")


def seal_of(unsealed: dict[str, Any]) -> str:
    """SHA-256 of the envelope without its seal: any change to a stored or transferred payload — a flipped bit
    in an unsigned field such as ``id`` or ``created`` included — makes decoding fail, not silently differ."""
    return hashlib.sha256(canonical_dumps(unsealed)).hexdigest()


def fingerprint_of(digest: bytes) -> str:
    return f"{digest[:2].hex()}-{digest[2:4].hex()}"


#: Domain text of the key fingerprint, so it can never equal a payload's or any other digest.
KEY_FINGERPRINT_DOMAIN = "dydx-airgap key fingerprint v1"


def key_fingerprint_of(network_id: int, address: str, stark_public_key: str) -> str:
    """What identifies an exported key, and nothing else: the same on every machine that derives it.

    A payload's fingerprint covers its random id and creation time, so two cold machines given the same key
    show different payload fingerprints; this one covers only network, address and STARK public key (x).
    Three groups, so it is not mistaken for a payload fingerprint.
    """
    text = canonical_dumps(
        {
            "domain": KEY_FINGERPRINT_DOMAIN,
            "network_id": network_id,
            "address": to_checksum_address(address),
            "stark_public_key": stark_public_key.lower(),
        }
    )
    digest = hashlib.sha256(text).digest()
    return f"{digest[:2].hex()}-{digest[2:4].hex()}-{digest[4:6].hex()}"


@dataclass(frozen=True)
class Payload:
    kind: str
    id: str
    network_id: int
    address: str | None
    created: str
    expires: str | None
    answers: str | None
    body: Mapping[str, Any] = field(repr=False)
    origin: str | None = None

    def envelope(self) -> dict[str, Any]:
        unsealed = {**self.content(), "origin": self.origin}
        return {**unsealed, "seal": seal_of(unsealed)}

    def content_digest(self) -> bytes:
        """SHA-256 of everything but the origin signature and the seal: what the origin signature covers."""
        return hashlib.sha256(canonical_dumps(self.content())).digest()

    def content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "id": self.id,
            "network_id": self.network_id,
            "address": self.address,
            "created": self.created,
            "expires": self.expires,
            "answers": self.answers,
            "body": dict(self.body),
        }

    def to_bytes(self) -> bytes:
        data = canonical_dumps(self.envelope())
        if len(data) > MAX_PAYLOAD_BYTES:
            raise FormatError(f"payload is {len(data)} bytes, more than {MAX_PAYLOAD_BYTES}")
        return data

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.digest)

    @property
    def key_fingerprint(self) -> str | None:
        """For a payload that exports a key: :func:`key_fingerprint_of` it; None for every other kind."""
        if self.kind != "public-key" or self.address is None:
            return None
        return key_fingerprint_of(self.network_id, self.address, self.body["stark_public_key"])

    def created_at(self) -> datetime:
        return parse_iso_ms(self.created)

    def expires_at(self) -> datetime | None:
        return parse_iso_ms(self.expires) if self.expires else None

    def is_expired(self, now: datetime | None = None) -> bool:
        expiry = self.expires_at()
        return expiry is not None and (now or now_utc()) > expiry

    def summary(self) -> str:
        """One line for the operator: kind, network, address, fingerprint (and the key's, for a key)."""
        network = NETWORKS[self.network_id].name if self.network_id in NETWORKS else str(self.network_id)
        key = f" | key fingerprint {self.key_fingerprint}" if self.key_fingerprint else ""
        return (
            f"{self.kind} | network {network} ({self.network_id}) | "
            f"address {self.address or '-'} | fingerprint {self.fingerprint}{key}"
        )


def new_id() -> str:
    return uuid.UUID(bytes=secrets.token_bytes(16), version=4).hex


def new_payload(
    kind: str,
    network_id: int,
    address: str | None,
    body: Mapping[str, Any],
    *,
    expires_in: timedelta | None = None,
    expires: datetime | None = None,
    answers: str | None = None,
    now: datetime | None = None,
    signer: OriginSigner | None = None,
) -> Payload:
    """Build and validate a payload; ``created`` is now (UTC, ms) unless given.

    Kinds in ORIGIN_SIGNED_KINDS need ``signer`` (the cold key's origin signature); others must not have one.
    """
    payload, _data = new_payload_and_bytes(
        kind,
        network_id,
        address,
        body,
        expires_in=expires_in,
        expires=expires,
        answers=answers,
        now=now,
        signer=signer,
    )
    return payload


def new_payload_and_bytes(
    kind: str,
    network_id: int,
    address: str | None,
    body: Mapping[str, Any],
    *,
    expires_in: timedelta | None = None,
    expires: datetime | None = None,
    answers: str | None = None,
    now: datetime | None = None,
    signer: OriginSigner | None = None,
) -> tuple[Payload, bytes]:
    """:func:`new_payload`, with the very bytes it decoded and validated: a writer that keeps them need not
    encode again, and a read-back that compares a file with them checks it against validated bytes."""
    created = now or now_utc()
    if expires is None and expires_in is not None:
        expires = created + expires_in
    payload = Payload(
        kind=kind,
        id=new_id(),
        network_id=network_id,
        address=to_checksum_address(address) if address is not None else None,
        created=iso_ms(created),
        expires=iso_ms(expires) if expires is not None else None,
        answers=answers,
        body=dict(body),
    )
    if kind in ORIGIN_SIGNED_KINDS:
        if signer is None or payload.address is None:
            raise FormatError(f"a {kind} payload must be signed by the cold key that made it")
        origin = signer(network_id, payload.address, payload.content_digest())
        payload = dataclasses.replace(payload, origin=origin)
    elif signer is not None:
        raise FormatError(f"a {kind} payload carries no origin signature")
    data = payload.to_bytes()
    return decode_payload(data), data  # one code path validates what we write and what we read


def rebuild_validated_payload(data: bytes) -> Payload:
    """The Payload of bytes that :func:`decode_payload` has already accepted in this process tree — a
    forked batch worker (offline/keys/batch.py) built and validated them — without validating again.

    It parses the bytes and requires that the object it builds encodes back to exactly these bytes (the
    seal recomputed included): the object is then the validated payload, field for field. Anything that
    did not come from the decoder fails that test or a field check and raises FormatError. (Plain
    ``json.loads`` suffices here: a duplicate key, a float or any non-canonical spelling cannot survive
    the re-encoding comparison.)
    """
    if len(data) > MAX_PAYLOAD_BYTES:
        raise FormatError("not a validated payload")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise FormatError("not a validated payload") from None
    _require(isinstance(value, dict) and set(value) == ENVELOPE_FIELDS, "not a validated payload")
    kind = value["kind"]
    _require(
        isinstance(kind, str) and kind in KINDS and isinstance(value["body"], dict), "not a validated payload"
    )
    payload = Payload(
        kind=value["kind"],
        id=value["id"],
        network_id=value["network_id"],
        address=value["address"],
        created=value["created"],
        expires=value["expires"],
        answers=value["answers"],
        body=value["body"],
        origin=value["origin"],
    )
    _require(payload.to_bytes() == data, "not a validated payload")
    return payload


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise FormatError(message)


def decode_payload(data: bytes) -> Payload:
    """Strictly decode payload bytes (file contents or reassembled QR frames)."""
    try:
        return _decode(data)
    except FormatError:
        raise
    except InputError as exc:  # a bad address or timestamp inside a payload is a format error of it
        raise FormatError(f"payload: {exc.message}") from None


def _decode(data: bytes) -> Payload:
    value = canonical_loads(data, max_bytes=MAX_PAYLOAD_BYTES)
    _require(isinstance(value, dict), "a payload is a JSON object")
    unknown = set(value) - ENVELOPE_FIELDS
    _require(not unknown, f"payload has unknown field(s): {', '.join(sorted(unknown))[:80]}")
    missing = ENVELOPE_FIELDS - set(value)
    _require(not missing, f"payload lacks field(s): {', '.join(sorted(missing))}")
    _require(
        value["format"] == FORMAT, f"unsupported payload format {str(value['format'])[:40]!r}; need {FORMAT}"
    )
    kind = value["kind"]
    _require(isinstance(kind, str) and kind in KINDS, f"unknown payload kind {str(kind)[:40]!r}")
    _require(
        isinstance(value["id"], str) and bool(_ID.fullmatch(value["id"])), "payload id must be 32 hex digits"
    )
    network_id = value["network_id"]
    _require(
        isinstance(network_id, int) and not isinstance(network_id, bool) and network_id in NETWORKS,
        f"payload names unknown network {str(network_id)[:20]}",
    )
    address = value["address"]
    if address is not None:
        _require(isinstance(address, str), "payload address must be a string")
        parse_address(address)
        _require(address == to_checksum_address(address), "payload address must be in EIP-55 checksum case")
    _require(isinstance(value["created"], str), "payload created must be a timestamp string")
    created = parse_iso_ms(value["created"])
    if value["expires"] is not None:
        _require(isinstance(value["expires"], str), "payload expires must be a timestamp string or null")
        _require(parse_iso_ms(value["expires"]) > created, "payload expires before it was created")
    answers = value["answers"]
    _require(
        answers is None or (isinstance(answers, str) and bool(_ID.fullmatch(answers))),
        "payload answers must be null or a payload id",
    )
    _require(isinstance(value["body"], dict), "payload body must be a JSON object")
    KINDS[kind].validate(value["body"])
    unsealed = {k: v for k, v in value.items() if k != "seal"}
    _require(
        value["seal"] == hashlib.sha256(dumps_checked(unsealed)).hexdigest(),  # seal_of, value checked
        "payload seal does not match its contents: it was altered or damaged",
    )
    payload = Payload(
        kind=kind,
        id=value["id"],
        network_id=network_id,
        address=address,
        created=value["created"],
        expires=value["expires"],
        answers=answers,
        body=value["body"],
        origin=value["origin"],
    )
    if kind in ORIGIN_SIGNED_KINDS:
        _require(
            isinstance(value["origin"], str), f"a {kind} payload must carry the cold key's origin signature"
        )
        assert address is not None
        try:
            content = hashlib.sha256(dumps_checked(payload.content())).digest()  # content_digest()
            verify_origin(network_id, address, content, value["origin"])
        except SignatureError as exc:
            raise FormatError(exc.message) from None
    else:
        _require(value["origin"] is None, f"a {kind} payload carries no origin signature")
    return payload
