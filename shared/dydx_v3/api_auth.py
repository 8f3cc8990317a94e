"""API-key (HMAC) request authentication (spec dydx-v3.md §6.3)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from dydx_airgap.shared.errors import InputError

HEADER_SIGNATURE = "DYDX-SIGNATURE"
HEADER_API_KEY = "DYDX-API-KEY"
HEADER_TIMESTAMP = "DYDX-TIMESTAMP"
HEADER_PASSPHRASE = "DYDX-PASSPHRASE"  # noqa: S105 - a header name, not a password
HEADER_ETHEREUM_ADDRESS = "DYDX-ETHEREUM-ADDRESS"
HEADER_ACCOUNT_NUMBER = "DYDX-ACCOUNT-NUMBER"


def _secret_bytes(secret: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InputError("the API secret is not url-safe base64") from exc


def _mac(secret: str, timestamp: str, method: str, request_path: str, body: str) -> bytes:
    message = (timestamp + method.upper() + request_path + body).encode("utf-8")
    return hmac.new(_secret_bytes(secret), message, hashlib.sha256).digest()


def sign_api_request(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """The ``DYDX-SIGNATURE`` of an API-key request: url-safe base64 with padding, as dydx-v3-python sends."""
    return base64.urlsafe_b64encode(_mac(secret, timestamp, method, request_path, body)).decode("ascii")


def verify_api_request(
    secret: str, timestamp: str, method: str, request_path: str, body: str, signature: str
) -> bool:
    """Accept both base64 alphabets, as dYdX did (dydx-v3-python sends url-safe, v3-client standard)."""
    expected = _mac(secret, timestamp, method, request_path, body)
    candidates = (
        base64.urlsafe_b64encode(expected).decode("ascii"),
        base64.b64encode(expected).decode("ascii"),
    )
    return any(hmac.compare_digest(signature.encode("utf-8"), c.encode("ascii")) for c in candidates)
