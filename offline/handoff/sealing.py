"""The sealed handoff: the secrets of chosen vault accounts, sealed to the trading host's age recipient.

A market maker onboards in order to trade, and dYdX v3 trading needs the STARK private key (orders,
transfers, withdrawals are STARK-signed) and the API credentials (every private call is HMAC-signed). This
module reads them from the vault, checks them against the key the operator loaded and against the STARK
curve, and seals them with age (pyrage) into a ``sealed-credentials`` payload that the cold key origin-signs.
The trading host opens it with ``age -d`` alone; the relay carries only ciphertext.

The plaintext is a JSON list with one object per account, in the shape dydx-v3-python's ``Client`` takes
(its own hex spelling of STARK keys, which it compares as strings), plus ``account`` and ``key_variant``::

    [{"account": 0, "key_variant": "web-app", "network_id": 1,
      "default_ethereum_address": "0x…", "stark_private_key": "0x…", "stark_public_key": "0x…",
      "stark_public_key_y_coordinate": "0x…", "api_key_credentials": {"key", "secret", "passphrase"}}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dydx_airgap.offline.keys.batch import stark_public_points_parallel
from dydx_airgap.offline.keys.derive import VAULT_NAME
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.ethereum.address import same_address, to_checksum_address
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.age_recipient import Recipient, seal
from dydx_airgap.shared.transport.bodies import HANDOFF_PLAINTEXT_FORMAT, MAX_HANDOFF_ACCOUNTS
from dydx_airgap.shared.transport.payload import Payload, new_payload

#: The keys of each plaintext object that are dydx-v3-python ``Client`` arguments, as they are.
CLIENT_ARGUMENTS = (
    "network_id",
    "default_ethereum_address",
    "stark_private_key",
    "stark_public_key",
    "stark_public_key_y_coordinate",
    "api_key_credentials",
)
DEFAULT_VARIANT = "web-app"
WHAT_IS_SEALED = "STARK private key, API key secret and passphrase"


@dataclass(frozen=True)
class Handoff:
    payload: Payload
    age_text: str  # the age file, ASCII armor: the same bytes as the payload's body["age"]
    rows: list[tuple[str, str]]
    accounts: list[dict[str, Any]]  # the public description of each account, as the payload lists it
    plaintext: Secret[bytes] = field(repr=False)


def vault_file(path: Path) -> Path:
    """``--vault`` names derive's output folder or the vault file in it."""
    return path / VAULT_NAME if path.is_dir() else path


def dydx3_hex(value: str) -> str:
    """dydx-v3-python's spelling of a STARK integer (``hex(int)``: minimal, lower case): its Client compares
    the public keys it computes with the ones it is given as strings (spec dydx-v3.md §8)."""
    return hex(int(value, 16))


def select_entries(
    contents: dict[str, Any], network: Network, indices: Sequence[int], vault: Path
) -> list[dict[str, Any]]:
    accounts = contents.get("accounts")
    if not isinstance(accounts, list):
        raise InputError(f"{vault} holds no v3 accounts")
    stored = {
        (e.get("network_id"), e.get("account")): e for e in accounts if isinstance(e, dict) and "account" in e
    }
    missing = [i for i in indices if (network.chain_id, i) not in stored]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10])
        raise InputError(
            f"account(s) {shown} on {network.label} are not in the vault {vault}: "
            "run derive for them first (or check --accounts and --network)"
        )
    return [stored[(network.chain_id, i)] for i in sorted(indices)]


def check_entries(entries: list[dict[str, Any]], keys: list[AccountKey]) -> None:
    """The vault must belong to the key the operator loaded, and its secrets must re-derive its public keys:
    a vault that drifted from its key, or a damaged one, would hand the trading host keys that sign for
    nobody."""
    by_index = {k.index: k for k in keys}
    for entry in entries:
        key = by_index[entry["account"]]
        if not same_address(str(entry["address"]), key.key.address):
            raise VerificationError(
                f"the vault's account {entry['account']} is {entry['address']}, but this key's account "
                f"{entry['account']} is {key.key.address}: this vault belongs to another key; nothing was "
                "sealed"
            )
    points = stark_public_points_parallel([int(e["stark_private_key"], 16) for e in entries], workers=1)
    for entry, (x, y) in zip(entries, points, strict=True):
        if (x, y) != (int(entry["stark_public_key"], 16), int(entry["stark_public_key_y"], 16)):
            raise VerificationError(
                f"the vault's STARK private key of account {entry['account']} does not give its public "
                "key: the vault is damaged; nothing was sealed"
            )


def plaintext_of(entries: list[dict[str, Any]], network: Network) -> Secret[bytes]:
    items = [
        {
            "account": entry["account"],
            "key_variant": entry.get("key_variant", DEFAULT_VARIANT),
            "network_id": network.chain_id,
            "default_ethereum_address": to_checksum_address(str(entry["address"])),
            "stark_private_key": dydx3_hex(entry["stark_private_key"]),
            "stark_public_key": dydx3_hex(entry["stark_public_key"]),
            "stark_public_key_y_coordinate": dydx3_hex(entry["stark_public_key_y"]),
            "api_key_credentials": {
                "key": entry["api_key"]["key"],
                "secret": entry["api_key"]["secret"],
                "passphrase": entry["api_key"]["passphrase"],
            },
        }
        for entry in entries
    ]
    return Secret((json.dumps(items, indent=2, sort_keys=True) + "\n").encode("ascii"))


def public_accounts(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "account": entry["account"],
            "address": to_checksum_address(str(entry["address"])),
            "stark_public_key": entry["stark_public_key"],
            "key_variant": entry.get("key_variant", DEFAULT_VARIANT),
            "api_key": entry["api_key"]["key"],
        }
        for entry in entries
    ]


def build_handoff(
    network: Network, entries: list[dict[str, Any]], keys: list[AccountKey], recipient: Recipient
) -> Handoff:
    """Seal the entries' secrets to ``recipient``; the payload is origin-signed by the key of the first
    (lowest) account, whose address it names; the body lists every account's address."""
    if len(entries) > MAX_HANDOFF_ACCOUNTS:
        raise InputError(
            f"at most {MAX_HANDOFF_ACCOUNTS} accounts in one handoff (a payload is at most 64 KiB): "
            "split --accounts over several handoffs"
        )
    check_entries(entries, keys)
    plaintext = plaintext_of(entries, network)
    age_text = seal(plaintext.reveal(), recipient)
    accounts = public_accounts(entries)
    signer = next(k for k in keys if k.index == entries[0]["account"])
    payload = new_payload(
        "sealed-credentials",
        network.chain_id,
        signer.key.address,
        {
            "recipient": recipient.text,
            "recipient_type": recipient.type,
            "recipient_fingerprint": recipient.fingerprint,
            "plaintext_format": HANDOFF_PLAINTEXT_FORMAT,
            "accounts": accounts,
            "age": age_text,
        },
        signer=signer.key.origin_signer(),
    )
    rows = [
        ("network", network.label),
        ("secrets sealed", f"{WHAT_IS_SEALED}, of {len(accounts)} account(s)"),
    ]
    for item in accounts:
        rows.append(
            (
                f"account {item['account']}",
                f"{item['address']}  STARK {item['stark_public_key']}  variant {item['key_variant']}  "
                f"API key {item['api_key']}",
            )
        )
    rows += [
        ("recipient", recipient.text),
        ("recipient type", recipient.type),
        ("recipient fingerprint", recipient.fingerprint),
        ("on the trading host", f"{recipient.trading_host_check()}  (first 16 hex digits, grouped by 4)"),
        ("signed by", f"{signer.key.address} (origin signature)"),
        ("payload fingerprint", payload.fingerprint),
    ]
    return Handoff(payload, age_text, rows, accounts, plaintext)
