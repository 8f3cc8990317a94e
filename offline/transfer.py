"""`export` (cold → relay payloads as QR frames) and `import` (relay → cold payloads)."""

from __future__ import annotations

from typing import Any

from dydx_airgap.offline.evidence.log import append_entry
from dydx_airgap.offline.options import evidence_log_option
from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.shared.transport.kinds import TO_COLD, TO_RELAY
from dydx_airgap.shared.transport.payload import Payload
from dydx_airgap.shared.transport.transfer_cli import make_export_command, make_import_command


def _log_export(payload: Payload, file_name: str, options: dict[str, Any]) -> None:
    append_entry(
        options["evidence_log"],
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


export = make_export_command(
    TO_RELAY, "cold machine", on_export=_log_export, extra_options=(evidence_log_option,)
)
import_ = make_import_command(TO_COLD, "cold machine", screen=_screen)
