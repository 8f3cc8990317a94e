"""`dydx-offline evidence bundle`: the signed evidence bundle an auditor checks with `dydx-audit verify`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.keys.sources import load_one_key
from dydx_airgap.offline.options import (
    DEFAULT_EVIDENCE_LOG,
    account_option,
    evidence_log_option,
    json_option,
    key_source_from,
    key_source_options,
    network_option,
    variant_option,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.transport.payload import Payload

_file = click.Path(path_type=Path, dir_okay=False)
_dir = click.Path(path_type=Path, file_okay=False)


@click.group()
def evidence() -> None:
    """Evidence for auditors: bundles of signed payloads and the evidence log, signed by the cold key."""


@evidence.command("bundle")
@key_source_options
@network_option
@account_option
@evidence_log_option
# The first spelling of --evidence-log here; kept so existing scripts keep working.
@click.option("--log", "legacy_log", type=_file, hidden=True)
@click.option(
    "--from",
    "from_dirs",
    type=_dir,
    multiple=True,
    required=True,
    help="A directory holding signed payloads, public files, tx-requests (repeat for several).",
)
@click.option("--out", "out", type=_dir, required=True, help="The bundle directory to create.")
@variant_option
@json_option
def bundle(
    network: Network,
    account: int,
    variant: StarkKeyVariant,
    evidence_log: Path,
    legacy_log: Path | None,
    from_dirs: tuple[Path, ...],
    out: Path,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Collect what the evidence log says this key signed, check every file against the log, and write a
    bundle whose manifest the key signs (EIP-191, dedicated evidence text), verified as an auditor would
    before it is written and read back after. Add the relay's receipts on the online machine: dydx-relay
    evidence add-receipts.
    """
    from dydx_airgap.offline.evidence.bundle import build_bundle
    from dydx_airgap.offline.keys.cold_key import derive_account
    from dydx_airgap.offline.keys.derive import public_file_name, public_payload
    from dydx_airgap.shared.progress import BatchProgress
    from dydx_airgap.shared.progress import wanted as progress_wanted

    if legacy_log is not None and evidence_log != DEFAULT_EVIDENCE_LOG and legacy_log != evidence_log:
        raise InputError("--log and --evidence-log name two different logs: give only --evidence-log")
    log_path = legacy_log if legacy_log is not None else evidence_log
    key = load_one_key(key_source_from(kwargs), account)

    def own_public() -> tuple[str, Payload]:
        derived = derive_account(key.key, network.chain_id, variant)
        return public_file_name(network, key.index), public_payload(network, key, derived)

    with BatchProgress(progress_wanted(as_json)) as progress:
        built = build_bundle(key.key, network, log_path, list(from_dirs), out, own_public, progress)
    manifest = built.manifest
    if as_json:
        click.echo(
            json.dumps(
                {
                    "bundle": str(out),
                    "manifest_sha256": built.manifest_sha256,
                    "address": manifest.address,
                    "network_id": manifest.network_id,
                    "artefacts": [a.to_json() for a in manifest.artefacts],
                    "public_file_made": built.made_public,
                },
                indent=2,
            )
        )
        return
    click.echo(f"bundle {out}: {len(manifest.artefacts)} artefacts for {manifest.address} on {network.label}")
    for art in manifest.artefacts:
        label = f"{art.kind} {art.fingerprint}" if art.fingerprint else art.kind
        click.echo(f"  {art.path:<40} {label}")
    if built.made_public:
        click.echo(
            "  (no public file of this key was in the --from directories: the one above was made now from "
            "the key, so the auditor can cross-check the STARK key)"
        )
    click.echo(f"manifest SHA-256 {built.manifest_sha256}, signed by {manifest.address} (manifest.sig)")
    click.echo(
        "verified: every check passes; next, on the relay: dydx-relay evidence add-receipts " + str(out)
    )
