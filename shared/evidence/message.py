"""The text the Ethereum key signs to vouch for an evidence manifest (EIP-191, personal_sign).

Its fixed first line is a domain separator: it can never be a dYdX EIP-712 request (those are 0x1901 digests),
a dYdX personal-sign text (those are JSON starting with ``{``), a transaction (0x02 ‖ RLP), or a derivation
message. The manifest is referenced by its SHA-256 only, so the signed text is short and readable.
"""

from __future__ import annotations

import re

from dydx_airgap.shared.errors import FormatError
from dydx_airgap.shared.ethereum.eip191 import personal_message_hash

PREFIX = "dydx-airgap evidence manifest v1"
_TEXT = re.compile(
    re.escape(PREFIX) + r"\nchain id: (\d{1,20})\naddress: (0x[0-9a-fA-F]{40})\nsha256: ([0-9a-f]{64})"
)


def manifest_message(chain_id: int, address: str, manifest_sha256: bytes) -> str:
    if len(manifest_sha256) != 32:
        raise FormatError("a manifest digest is 32 bytes")
    return f"{PREFIX}\nchain id: {chain_id}\naddress: {address}\nsha256: {manifest_sha256.hex()}"


def manifest_message_hash(chain_id: int, address: str, manifest_sha256: bytes) -> bytes:
    return personal_message_hash(manifest_message(chain_id, address, manifest_sha256).encode("utf-8"))


def parse_manifest_message(text: str) -> tuple[int, str, bytes]:
    m = _TEXT.fullmatch(text)
    if not m:
        raise FormatError("not a dydx-airgap evidence manifest message")
    return int(m.group(1)), m.group(2), bytes.fromhex(m.group(3))
