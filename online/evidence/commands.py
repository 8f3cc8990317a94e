"""`dydx-relay init-evidence-key | evidence-key | evidence add-receipts | evidence pack`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from dydx_airgap.online.options import json_option, state_option
from dydx_airgap.shared.errors import InputError, VerificationError

_bundle = click.argument("bundle", type=click.Path(path_type=Path))


def _state_dir(state_dir: Path | None) -> Path:
    from dydx_airgap.online.state_dir import default_state_dir

    return state_dir or default_state_dir()


def _show_key(public: bytes, as_json: bool, created: bool) -> None:
    from dydx_airgap.online.evidence.receipts import key_fingerprint

    if as_json:
        click.echo(
            json.dumps(
                {"algorithm": "ed25519", "public_key": public.hex(), "fingerprint": key_fingerprint(public)}
            )
        )
        return
    if created:
        click.echo("created the relay's evidence key (Ed25519, 0600)")
    click.echo(f"relay evidence public key: {public.hex()}")
    click.echo(f"fingerprint: {key_fingerprint(public)}")
    click.echo(
        "register it with your auditor, who checks bundles with: dydx-audit verify BUNDLE --relay-key <key>"
    )


@click.command("init-evidence-key")
@state_option
@json_option
def init_evidence_key(state_dir: Path | None, as_json: bool) -> None:
    """Create the Ed25519 key the relay signs evidence receipts with (once, at set-up) and print its public
    key for the firm to register with the auditor."""
    from dydx_airgap.online.evidence.receipts import init_evidence_key as create

    _show_key(create(_state_dir(state_dir)), as_json, created=True)


@click.command("evidence-key")
@state_option
@json_option
def evidence_key(state_dir: Path | None, as_json: bool) -> None:
    """Print the relay's evidence public key again."""
    from dydx_airgap.online.evidence.receipts import load_evidence_key, public_key_bytes

    _show_key(public_key_bytes(load_evidence_key(_state_dir(state_dir))), as_json, created=False)


@click.group()
def evidence() -> None:
    """Evidence bundles: the relay's signed receipts, and the single-file archive for the auditor."""


@evidence.command("add-receipts")
@_bundle
@state_option
@click.option("--replace", is_flag=True, help="Make the receipts anew if the bundle already has some.")
@json_option
def add_receipts(bundle: Path, state_dir: Path | None, replace: bool, as_json: bool) -> None:
    """Add relay/receipts.json (what this relay submitted for the bundle's payloads and transactions, and
    what the API and chain answered, secrets redacted) and its Ed25519 signature to BUNDLE (a directory or
    .tar). The bundle's cold part must verify first."""
    from dydx_airgap.online.evidence.receipts import add_receipts as build
    from dydx_airgap.online.evidence.receipts import key_fingerprint, write_receipts
    from dydx_airgap.shared.evidence.files import load_bundle
    from dydx_airgap.shared.progress import BatchProgress
    from dydx_airgap.shared.progress import wanted as progress_wanted

    files = load_bundle(bundle)
    with BatchProgress(progress_wanted(as_json)) as progress:
        updated, added = build(files, _state_dir(state_dir), replace, progress)
        progress.stage("writing the receipts")
        write_receipts(bundle, files, updated)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "bundle": str(bundle),
                    "submissions": added.submissions,
                    "transactions": added.transactions,
                    "relay_public_key": added.public_key.hex(),
                }
            )
        )
        return
    click.echo(
        f"added relay receipts to {bundle}: {added.submissions} submission(s), {added.transactions} "
        f"transaction(s), signed by relay key {added.public_key.hex()} "
        f"(fingerprint {key_fingerprint(added.public_key)}; pin the key with dydx-audit --relay-key)"
    )
    if added.submissions + added.transactions == 0:
        click.echo("note: this relay's journals hold nothing for the bundle's payloads", err=True)


@evidence.command("pack")
@_bundle
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="FILE.tar")
def pack(bundle: Path, out: Path) -> None:
    """Write BUNDLE as one deterministic .tar (sorted names, fixed times and owners) for sending by email.
    The bundle must verify (with the key it states) first."""
    from dydx_airgap.shared.evidence.files import load_bundle, write_bundle_archive
    from dydx_airgap.shared.evidence.verify import verify_bundle
    from dydx_airgap.shared.progress import BatchProgress
    from dydx_airgap.shared.progress import wanted as progress_wanted

    if out.exists():
        raise InputError(f"{out} already exists; choose another --out")
    files = load_bundle(bundle)
    with BatchProgress(progress_wanted(False)) as progress:
        verification = verify_bundle(files, progress=progress)
        if not verification.ok:
            first = verification.failures[0]
            raise VerificationError(
                f"{bundle} does not verify ({first.name} {first.artefact}: {first.detail})"
            )
        progress.stage("writing the archive")
        data = write_bundle_archive(out, files.files)
    click.echo(f"packed {bundle} -> {out} ({len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()})")
