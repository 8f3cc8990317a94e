"""dYdX-shaped error responses: ``{"errors": [{"msg": ...}]}`` with a status code.

dYdX's API answered every failure with that envelope; validation failures (express-validator style)
also carried ``param``, ``location`` and ``value`` (seen in dydx-v3-python issue #189). Clients only look
at the status and ``msg``, so the local API reproduces the envelope and keeps the messages one line.
A header value is never echoed back: ``DYDX-SIGNATURE`` of an onboarding call seeds the default API
secret (spec dydx-v3.md §9).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# The messages a client of the local API can see, by cause. Where dYdX's own text is known it is used
# verbatim (marked "dYdX"); the others are our choice. The module docstring of the package lists them.
MSG_INVALID_ONBOARDING_SIGNATURE = "Invalid signature for onboarding request"  # dYdX
MSG_UNAUTHORIZED = "Unauthorized"  # dYdX
MSG_API_KEY_NOT_FOUND = "API key not found"  # dYdX
MSG_INVALID_ETH_SIGNATURE = "Invalid signature for Ethereum-key request"
MSG_TIMESTAMP_WINDOW = "DYDX-TIMESTAMP must be within 30 seconds of the server time"
MSG_INVALID_VALUE = "Invalid value"  # dYdX (express-validator)
MSG_USER_EXISTS = "User already exists"
MSG_USER_NOT_FOUND = "User not found"
MSG_ACCOUNT_NOT_FOUND = "Account not found"
MSG_STARK_KEY_TAKEN = "starkKey is already registered to another user"
MSG_API_KEY_LIMIT = "A user can have at most 20 API keys"
MSG_LAST_API_KEY = "Cannot delete the last API key of a user"
MSG_NOT_FOUND = "Not Found"
MSG_METHOD_NOT_ALLOWED = "Method Not Allowed"
MSG_BODY_TOO_LARGE = "Request body is too large"
MSG_INTERNAL = "Internal Server Error"


class ApiError(Exception):
    """Raised by a handler to answer with a dYdX error envelope.

    ``param``/``location``/``value`` produce the express-validator shape dYdX used for bad input.
    """

    def __init__(
        self,
        status: int,
        msg: str,
        *,
        param: str | None = None,
        location: str | None = None,
        value: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = " ".join(msg.split())
        self.param = param
        self.location = location
        self.value = value
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"msg": self.msg}
        if self.param is not None:
            if self.value is not None:
                entry = {"value": self.value, **entry}
            entry["param"] = self.param
            entry["location"] = self.location or "body"
        return {"errors": [entry]}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid_value(
    param: str, location: str, value: object | None = None, msg: str = MSG_INVALID_VALUE
) -> ApiError:
    """A 400 in express-validator shape. ``value`` is echoed only when it is short public text."""
    shown = value if isinstance(value, str) and len(value) <= 200 else None
    return ApiError(400, msg, param=param, location=location, value=shown)


def error_response(status: int, msg: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return ApiError(status, msg, headers=headers).response()
