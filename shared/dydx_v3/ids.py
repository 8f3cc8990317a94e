"""dYdX user and account ids: UUIDv5 under dYdX's namespace (spec dydx-v3.md §8)."""

from __future__ import annotations

import uuid

from dydx_airgap.shared.ethereum.address import parse_address

DYDX_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")


def user_id(address: str) -> str:
    return str(uuid.uuid5(DYDX_NAMESPACE, "0x" + parse_address(address).hex()))


def account_id(address: str, account_number: int = 0) -> str:
    return str(uuid.uuid5(DYDX_NAMESPACE, user_id(address) + str(int(account_number))))
