"""What the dYdX API knows that the transactions need: the account's STARK key and position id, and
dYdX's registration signature.

Both reads are HMAC-authenticated with the API credentials the relay stored at onboarding (the relay's
:class:`~dydx_airgap.online.relay.credentials.CredentialStore`). Answers are checked (security.md T4): the
account must be the one asked for, and the registration signature must recover to *someone* — whether that
someone may register users is then asked of the contract itself, not of the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import coincurve

from dydx_airgap.online.relay.api_client import ApiClient, raise_for_status
from dydx_airgap.online.relay.api_key_calls import get_account, hmac_get
from dydx_airgap.online.relay.responses import account_fields
from dydx_airgap.online.relay.server_clock import ServerClock
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.dydx_v3.ids import account_id
from dydx_airgap.shared.errors import RemoteError
from dydx_airgap.shared.ethereum.address import address_from_public_key, parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import SECP256K1_N

REGISTRATION_PATH = "/v3/registration"
REGISTRATION_PREFIX = b"UserRegistration:"
_SIGNATURE_TEXT = re.compile(r"0x[0-9a-fA-F]{130}")


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    stark_key: int
    position_id: int


def fetch_account(
    client: ApiClient, credentials: ApiCredentials, clock: ServerClock, address: str
) -> AccountFacts:
    """``GET /v3/accounts/{accountId}`` of account 0 (dYdX's default) for ``address``."""
    wanted = account_id(address, 0)
    account = get_account(client, credentials, clock, wanted)
    got_id, position_id, stark_key = account_fields(account, "GET /v3/accounts", None)
    if got_id != wanted:
        raise RemoteError(f"GET /v3/accounts: the API answered with account {got_id}, not {wanted}")
    stark = int(stark_key, 16)
    if stark == 0:
        raise RemoteError("GET /v3/accounts: the account's STARK key is zero")
    return AccountFacts(account_id=got_id, stark_key=stark, position_id=int(position_id))


def fetch_registration_signature(client: ApiClient, credentials: ApiCredentials, clock: ServerClock) -> bytes:
    """``GET /v3/registration`` → the 65-byte r ‖ s ‖ v that ``registerUser`` takes."""
    response = hmac_get(client, credentials, clock, REGISTRATION_PATH)
    raise_for_status(response, f"GET {REGISTRATION_PATH}")
    data = response.json()
    text = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(text, str) or not _SIGNATURE_TEXT.fullmatch(text):
        raise RemoteError(f"GET {REGISTRATION_PATH}: the answer has no 65-byte hex 'signature'")
    return bytes.fromhex(text[2:])


def registration_digest(address: str, stark_key: int) -> bytes:
    """keccak256("UserRegistration:" ‖ ethKey ‖ starkKey): what ``registerUser`` ecrecovers (no prefix)."""
    return keccak256(REGISTRATION_PREFIX + parse_address(address) + stark_key.to_bytes(32, "big"))


def registration_signer(address: str, stark_key: int, signature: bytes) -> str:
    """Who made ``signature`` for (address, stark_key), as the contract's ``ecrecover`` will see it."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N and v in (27, 28)):
        raise RemoteError(f"GET {REGISTRATION_PATH}: the signature is malformed (r, s or v out of range)")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), registration_digest(address, stark_key), hasher=None
        )
    except ValueError as exc:
        raise RemoteError(f"GET {REGISTRATION_PATH}: the signature recovers to no key") from exc
    return address_from_public_key(public.format(compressed=False))
