"""Building the signed dYdX requests the relay will submit (spec dydx-v3.md §6).

* onboarding: POST /v3/onboarding with the "dYdX Onboarding" signature — static, replayable, and the seed of
  the default API credentials, which is why it is only ever produced here, on purpose, with a warning;
* Ethereum-key calls (POST/DELETE /v3/api-keys, GET /v3/recovery): dYdX accepted their timestamps only within
  30 s of its clock, and a person carrying QR codes is slower than that. So we sign a *ladder*: the same call
  at successive future timestamps (every ``step`` seconds for ``minutes``), and the relay submits the one
  rung inside the window at submission time. The payload states its validity interval.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from dydx_airgap.offline.keys.cold_key import ColdKey, DerivedAccount
from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.offline.signing.clock import Clock
from dydx_airgap.shared.dydx_v3.eip712 import eth_private_action_digest
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.timestamps import SERVER_WINDOW_SECONDS, iso_ms
from dydx_airgap.shared.transport.bodies import ETH_PRIVATE_ACTIONS, MAX_LADDER_RUNGS
from dydx_airgap.shared.transport.payload import Payload, new_payload

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_REFERRAL = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class SignedRequest:
    payload: Payload
    eip712_digests: list[str]
    rows: list[tuple[str, str]]
    notes: list[str]


def onboarding_body_text(account: DerivedAccount, referral: str | None, country: str | None) -> str:
    """The exact JSON the relay sends (not signed by dYdX's scheme, but fixed here so it cannot drift)."""
    body: dict[str, str] = {
        "starkKey": hex(account.stark.public_key),
        "starkKeyYCoordinate": hex(account.stark.public_key_y),
    }
    if referral is not None:
        if not _REFERRAL.fullmatch(referral):
            raise InputError("--referral must be 1-64 letters, digits, '-' or '_'")
        body["referredByAffiliateLink"] = referral
    if country is not None:
        if not _COUNTRY.fullmatch(country):
            raise InputError("--country must be an ISO 3166-1 alpha-2 code such as CH")
        body["country"] = country
    screen(body, where="the onboarding body", include_keys=False)
    return json.dumps(body, separators=(",", ":"))


def build_onboarding_request(
    key: ColdKey,
    network: Network,
    account_index: int,
    account: DerivedAccount,
    referral: str | None,
    country: str | None,
    valid_for: timedelta,
    clock: Clock,
) -> SignedRequest:
    from dydx_airgap.shared.dydx_v3.eip712 import ONBOARDING_ACTION, onboarding_action_digest

    signature = account.onboarding_signature_for_request()
    body_text = onboarding_body_text(account, referral, country)
    now = clock.now()
    payload = new_payload(
        "onboarding-request",
        network.chain_id,
        account.address,
        {
            "account": account_index,
            "method": "POST",
            "request_path": "/v3/onboarding",
            "body": body_text,
            "signature": signature.to_hex(),
            "stark_public_key": f"0x{account.stark.public_key:064x}",
            "stark_public_key_y": f"0x{account.stark.public_key_y:064x}",
        },
        now=now,
        expires=now + valid_for,
        signer=key.origin_signer(),
    )
    digest = onboarding_action_digest(network.chain_id, ONBOARDING_ACTION).hex()
    rows = [
        ("network", network.label),
        ("address", account.address),
        ("account index", str(account_index)),
        ("action", f"EIP-712 dYdX {{action: {ONBOARDING_ACTION!r}}}  (type byte 00)"),
        ("request", "POST /v3/onboarding"),
        ("body sent", body_text),
        ("STARK public key", f"0x{account.stark.public_key:064x}"),
        ("EIP-712 digest", "0x" + digest),
        ("valid", f"{payload.created} .. {payload.expires}"),
        ("clock", clock.describe()),
        ("fingerprint", payload.fingerprint),
    ]
    notes = [
        "This signature lets whoever holds it compute your DEFAULT API credentials (key, secret,",
        "passphrase): dYdX designed it so. The relay and the API will know them; create fresh API keys",
        "and delete the default one if that matters to you.",
    ]
    return SignedRequest(payload, [digest], rows, notes)


def ladder_timestamps(
    clock: Clock, minutes: float, step_seconds: int, start_in_seconds: float
) -> list[datetime]:
    if not 1 <= step_seconds <= SERVER_WINDOW_SECONDS * 2 - 1:
        raise InputError(
            f"--ladder-step must be 1 to {SERVER_WINDOW_SECONDS * 2 - 1} seconds (the window is ±30 s)"
        )
    if not 0 <= minutes <= 30:
        raise InputError("--ladder-minutes must be from 0 to 30")
    if not 0 <= start_in_seconds <= 24 * 3600:
        raise InputError("--start-in must be from 0 to 86400 seconds")
    first = clock.now() + timedelta(seconds=start_in_seconds)
    first = first.replace(microsecond=(first.microsecond // 1000) * 1000)
    count = int(minutes * 60 // step_seconds) + 1
    if count > MAX_LADDER_RUNGS:
        raise InputError(f"that ladder has {count} rungs; at most {MAX_LADDER_RUNGS}: use a longer step")
    moments = [first + timedelta(seconds=i * step_seconds) for i in range(count)]
    clock.check_within_own_window(moments, timedelta(seconds=start_in_seconds + minutes * 60 + 1))
    return moments


def eth_private_request_path(action: str, api_key: str | None) -> tuple[str, str]:
    if action not in ETH_PRIVATE_ACTIONS:
        raise InputError(f"unknown action {action!r}: one of {', '.join(ETH_PRIVATE_ACTIONS)}")
    method, pattern = ETH_PRIVATE_ACTIONS[action]
    if action == "api-key-delete":
        if api_key is None or not _UUID.fullmatch(api_key):
            raise InputError(
                "--key must be the API key id to delete (a UUID like 50fdcaa0-62b8-e827-02e8-a9520d46cb9f)"
            )
        path = f"/v3/api-keys?apiKey={api_key}"
    else:
        path = "/v3/api-keys" if action == "api-key-create" else "/v3/recovery"
    if not pattern.fullmatch(path):
        raise InputError(f"path {path} is not allowed for {action}")
    return method, path


def build_eth_private_request(
    network: Network, key: ColdKey, action: str, api_key: str | None, timestamps: list[datetime], clock: Clock
) -> SignedRequest:
    method, path = eth_private_request_path(action, api_key)
    body = "{}"
    rungs = []
    digests = []
    for moment in timestamps:
        ts = iso_ms(moment)
        digests.append(eth_private_action_digest(network.chain_id, method, path, body, ts).hex())
        rungs.append(
            {
                "timestamp": ts,
                "signature": key.sign_eth_private_action(network.chain_id, method, path, body, ts).to_hex(),
            }
        )
    window = timedelta(seconds=SERVER_WINDOW_SECONDS)
    valid_from, valid_until = timestamps[0] - window, timestamps[-1] + window
    payload = new_payload(
        "eth-private-request",
        network.chain_id,
        key.address,
        {
            "action": action,
            "method": method,
            "request_path": path,
            "body": body,
            "rungs": rungs,
            "valid_from": iso_ms(valid_from),
            "valid_until": iso_ms(valid_until),
        },
        now=clock.now(),
        expires=valid_until,
        signer=key.origin_signer(),
    )
    step = (timestamps[1] - timestamps[0]).total_seconds() if len(timestamps) > 1 else 0
    rows = [
        ("network", network.label),
        ("address", key.address),
        ("action", f"{action}: EIP-712 dYdX {{method, requestPath, body, timestamp}}  (type byte 00)"),
        ("request", f"{method} {path}"),
        ("body", body),
        (
            "timestamps",
            f"{len(rungs)} rung(s) from {rungs[0]['timestamp']} to {rungs[-1]['timestamp']}"
            + (f", every {step:.0f} s" if step else ""),
        ),
        ("valid", f"{iso_ms(valid_from)} .. {iso_ms(valid_until)} (dYdX accepts ±{SERVER_WINDOW_SECONDS} s)"),
        ("clock", clock.describe()),
        ("EIP-712 digest", "0x" + digests[0] + (f" (first of {len(digests)})" if len(digests) > 1 else "")),
        ("fingerprint", payload.fingerprint),
    ]
    notes = []
    if action == "api-key-create":
        notes.append("Each rung is a valid request on its own: a relay could create up to one key per rung.")
    return SignedRequest(payload, digests, rows, notes)
