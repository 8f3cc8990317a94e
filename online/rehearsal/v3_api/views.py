"""The JSON shapes of dYdX v3's user and account objects (v3 API docs, spec dydx-v3.md §6.1).

Amounts are decimal strings, as dYdX sent them; ids and STARK keys are strings. Fields the local API has
no data for carry the neutral values a fresh dYdX user had (zero volumes, no e-mail, no positions).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from dydx_airgap.online.rehearsal.v3_api.store import AccountRecord, UserProfile, UserRecord
from dydx_airgap.shared.dydx_v3.networks import USDC_DECIMALS

# The fee tier of a new account (as seen in public v3 responses); informational only here.
_MAKER_FEE_RATE = "0.000200"
_TAKER_FEE_RATE = "0.000500"


def usdc_amount(units: int) -> str:
    """USDC base units as dYdX's human decimal string: 12345678 → "12.345678", 0 → "0"."""
    value = Decimal(units).scaleb(-USDC_DECIMALS)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def user_json(user: UserRecord, profile: UserProfile | None = None) -> dict[str, Any]:
    profile = profile or UserProfile()
    return {
        "ethereumAddress": user.address,
        "isRegistered": user.registered_at is not None,
        "email": profile.email,
        "username": profile.username,
        "referredByAffiliateLink": user.referred_by,
        "makerFeeRate": _MAKER_FEE_RATE,
        "takerFeeRate": _TAKER_FEE_RATE,
        "makerVolume30D": "0",
        "takerVolume30D": "0",
        "fees30D": "0",
        "userData": json.loads(profile.user_data),
        "isSharingUsername": profile.is_sharing_username,
        "isSharingAddress": profile.is_sharing_address,
        "dydxTokenBalance": "0",
        "stakedDydxTokenBalance": "0",
        "activeStakedDydxTokenBalance": "0",
        "isEmailVerified": False,
        "country": user.country,
        "languageCode": profile.language_code,
        "hedgiesHeld": [],
    }


def _balances(account: AccountRecord) -> dict[str, str]:
    # No positions exist locally, so equity and free collateral are the quote balance itself.
    balance = usdc_amount(account.quote_balance)
    return {"equity": balance, "freeCollateral": balance, "quoteBalance": balance}


def account_json(account: AccountRecord) -> dict[str, Any]:
    return {
        "starkKey": account.stark_key,
        "positionId": str(account.position_id),
        **_balances(account),
        "pendingDeposits": usdc_amount(account.pending_deposits),
        "pendingWithdrawals": usdc_amount(account.pending_withdrawals),
        "createdAt": account.created_at,
        "openPositions": {},
        "accountNumber": str(account.account_number),
        "id": account.id,
    }


def recovery_json(account: AccountRecord) -> dict[str, Any]:
    return {
        "starkKey": account.stark_key,
        "positionId": str(account.position_id),
        **_balances(account),
        "positions": [],
    }
