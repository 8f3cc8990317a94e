"""`export` (cold → relay payloads as QR frames) and `import` (relay → cold payloads)."""

from __future__ import annotations

from pathlib import Path

from dydx_airgap.shared.payload import Payload
from dydx_airgap.shared.transfer import TO_COLD, TO_RELAY
from dydx_airgap.shared.transfer_cli import make_export_command, make_import_command

from .cmd_sign import DEFAULT_EVIDENCE_LOG
from .evidence_log import append_entry
from .firewall import screen


def _log_export(payload: Payload, file_name: str) -> None:
    append_entry(
        Path(DEFAULT_EVIDENCE_LOG),
        "export",
        {
            "kind": payload.kind,
            "payload_id": payload.id,
            "payload_sha256": payload.digest.hex(),
            "fingerprint": payload.fingerprint,
            "network_id": payload.network_id,
            "address": payload.address,
            "file": file_name,
        },
    )


def _screen(payload: Payload) -> None:
    screen(dict(payload.body), where=f"the imported {payload.kind} payload", include_keys=False)


export = make_export_command(TO_RELAY, "cold machine", on_export=_log_export)
import_ = make_import_command(TO_COLD, "cold machine", screen=_screen)
