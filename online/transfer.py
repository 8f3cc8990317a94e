"""`import` (cold → relay payloads from QR frames or files) and `export` (relay → cold payloads)."""

from __future__ import annotations

from dydx_airgap.shared.transport.kinds import TO_COLD, TO_RELAY
from dydx_airgap.shared.transport.transfer_cli import make_export_command, make_import_command

import_ = make_import_command(TO_RELAY, "relay")
export = make_export_command(TO_COLD, "relay")
