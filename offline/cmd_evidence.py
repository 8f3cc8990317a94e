"""`dydx-offline evidence bundle`: the signed evidence bundle an auditor checks with `dydx-audit verify`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.shared.networks import Network

from .cmd_sign import DEFAULT_EVIDENCE_LOG, _load_one_key
from .options import key_source_options, network_option

_file = click.Path(path_type=Path, dir_okay=False)
_dir = click.Path(path_type=Path, file_okay=False)


@click.group()
def evidence() -> None:
    """Evidence for auditors: bundles of signed payloads and the evidence log, signed by the cold key."""


@evidence.command("bundle")
@key_source_options
@network_option
@click.option(
    "--account",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**31 - 1),
    help="Account index of the key whose signatures the bundle collects (and that signs it).",
)
@click.option(
    "--log",
    "log_path",
    type=_file,
    default=DEFAULT_EVIDENCE_LOG,
    show_default=True,
    help="The evidence log the sign commands appended to.",
)
@click.option(
    "--from",
    "from_dirs",
    type=_dir,
    multiple=True,
    required=True,
    help="A directory holding signed payloads, public files, tx-requests (repeat for several).",
)
@click.option("--out", "out", type=_dir, required=True, help="The bundle directory to create.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def bundle(
    network: Network,
    account: int,
    log_path: Path,
    from_dirs: tuple[Path, ...],
    out: Path,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Collect what the evidence log says this key signed, check every file against the log, and write a
    bundle whose manifest the key signs (EIP-191, dedicated evidence text). Then read it back and verify it
    as an auditor would. Add the relay's receipts on the online machine: dydx-relay evidence add-receipts.
    """
    from .evidence_bundle import build_bundle

    key = _load_one_key(kwargs, account)
    built = build_bundle(key.key, network, log_path, list(from_dirs), out)
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
                },
                indent=2,
            )
        )
        return
    click.echo(f"bundle {out}: {len(manifest.artefacts)} artefacts for {manifest.address} on {network.label}")
    for art in manifest.artefacts:
        label = f"{art.kind} {art.fingerprint}" if art.fingerprint else art.kind
        click.echo(f"  {art.path:<40} {label}")
    click.echo(f"manifest SHA-256 {built.manifest_sha256}, signed by {manifest.address} (manifest.sig)")
    click.echo(
        "verified: every check passes; next, on the relay: dydx-relay evidence add-receipts " + str(out)
    )
