"""The one table of payload kinds: which way each travels, who makes and who consumes it, whether the cold
key origin-signs it, and the validator of its body.

The envelope (payload.py) and the import commands (transfer.py) read this table and nothing else, so a new
kind is one row here plus its body validator in bodies.py. docs/architecture.md shows the same table; a test
compares the two.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dydx_airgap.shared.transport import bodies, bodies_escape, bodies_v4

BodyValidator = Callable[[Mapping[str, Any]], None]


class Direction(enum.Enum):
    TO_RELAY = "cold → relay"
    TO_COLD = "relay → cold"


@dataclass(frozen=True)
class PayloadKind:
    name: str
    direction: Direction
    made_by: str  # the module that writes it (a path in the repository)
    consumed_by: str
    #: Carries the cold key's origin signature (transport/origin.py). Everything the cold machine exports
    #: does: dYdX's own signatures do not cover every field a relay could swap (the STARK key, for one).
    origin_signed: bool
    validate: BodyValidator


_TABLE = (
    PayloadKind(
        "public-key",
        Direction.TO_RELAY,
        "offline/keys/derive.py",
        "online/relay, shared/audit",
        True,
        bodies.public_key_body,
    ),
    PayloadKind(
        "onboarding-request",
        Direction.TO_RELAY,
        "offline/signing/requests.py",
        "online/relay/submit.py",
        True,
        bodies.onboarding_request_body,
    ),
    PayloadKind(
        "eth-private-request",
        Direction.TO_RELAY,
        "offline/signing/requests.py",
        "online/relay/submit.py",
        True,
        bodies.eth_private_request_body,
    ),
    PayloadKind(
        "time",
        Direction.TO_COLD,
        "online/relay/timepayload.py",
        "offline/signing/clock.py",
        False,
        bodies.time_body,
    ),
    PayloadKind(
        "tx-request",
        Direction.TO_COLD,
        "online/onchain/prepare.py",
        "offline/signing/transactions.py",
        False,
        bodies.tx_request_body,
    ),
    PayloadKind(
        "signed-tx",
        Direction.TO_RELAY,
        "offline/signing/transactions.py",
        "online/onchain/broadcast.py",
        True,
        bodies.signed_tx_body,
    ),
    PayloadKind(
        "v4-public-key",
        Direction.TO_RELAY,
        "offline/keys/v4_derive.py",
        "online/relay, shared/audit",
        True,
        bodies_v4.v4_public_key_body,
    ),
    PayloadKind(
        "v4-tx-request",
        Direction.TO_COLD,
        "online/v4/prepare.py",
        "offline/signing/v4_transactions.py",
        False,
        bodies_v4.v4_tx_request_body,
    ),
    PayloadKind(
        "v4-signed-tx",
        Direction.TO_RELAY,
        "offline/signing/v4_transactions.py",
        "online/v4/broadcast.py, shared/audit",
        True,
        bodies_v4.v4_signed_tx_body,
    ),
    PayloadKind(
        "sealed-credentials",
        Direction.TO_RELAY,  # it crosses like any cold export; the relay can only carry it on, sealed
        "offline/handoff/sealing.py",
        "online/transfer.py",  # then the trading host: age -d, with no code of ours
        True,
        bodies.sealed_credentials_body,
    ),
    PayloadKind(
        "escape-request",
        Direction.TO_COLD,
        "online/escape/prepare.py",
        "offline/signing/escape.py",
        False,
        bodies_escape.escape_request_body,
    ),
    PayloadKind(
        "signed-escape",
        Direction.TO_RELAY,
        "offline/signing/escape.py",
        "online/escape/broadcast.py, shared/audit",
        True,
        bodies_escape.signed_escape_body,
    ),
)

KINDS: Mapping[str, PayloadKind] = {kind.name: kind for kind in _TABLE}
#: Kinds that must carry the cold key's origin signature; every other kind must carry none.
ORIGIN_SIGNED_KINDS = frozenset(k.name for k in _TABLE if k.origin_signed)
#: What the cold machine exports and the relay imports.
TO_RELAY = frozenset(k.name for k in _TABLE if k.direction is Direction.TO_RELAY)
#: What the relay exports and the cold machine imports.
TO_COLD = frozenset(k.name for k in _TABLE if k.direction is Direction.TO_COLD)


def known_kinds() -> tuple[str, ...]:
    return tuple(sorted(KINDS))
