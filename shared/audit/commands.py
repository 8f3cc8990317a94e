"""`dydx-audit verify | report | compare`: the auditor's commands, with public data only.

Nothing here holds or asks for a key: verify recomputes hashes and recovers signers, report renders what
verify found, compare diffs two cold machines' outputs. Exit status 0 means every check passed (verify,
report) — for verify, against pinned keys or with an explicit --unpinned — or no difference was found
(compare); 1 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dydx_airgap.shared.cli_support import say
from dydx_airgap.shared.errors import UsageError
from dydx_airgap.shared.fsutil import atomic_write_text

_bundle = click.argument("bundle", type=click.Path(path_type=Path))
_relay_key = click.option(
    "--relay-key",
    help="The relay's Ed25519 public key (64 hex digits) the firm registered; without it the receipts are "
    "checked against the key they state ('relay key not pinned').",
)
_address = click.option(
    "--address",
    "signer",
    help="The cold key's Ethereum address the firm registered; without it the manifest is checked against "
    "the address it states ('signer address not pinned').",
)
_cold_only = click.option(
    "--cold-only", is_flag=True, help="Check a bundle that has no relay receipts yet (the cold part alone)."
)


def _pinned(relay_key: str | None) -> bytes | None:
    from dydx_airgap.shared.errors import FormatError
    from dydx_airgap.shared.evidence.receipts import parse_public_key

    if relay_key is None:
        return None
    try:
        return parse_public_key(relay_key)
    except FormatError as exc:
        raise UsageError(f"--relay-key: {exc.message}") from None


def _signer(address: str | None) -> str | None:
    from dydx_airgap.shared.errors import InputError
    from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address

    if address is None:
        return None
    try:
        return to_checksum_address(parse_address(address.strip()))
    except InputError as exc:
        raise UsageError(f"--address: {exc.message}") from None


def _log_head(value: str | None) -> str | None:
    import re

    if value is None:
        return None
    text = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise UsageError("--log-head must be the 64 hex digits the cold machine printed after a signature")
    return text


def _unpinned(signer: str | None, relay_key: str | None, cold_only: bool) -> list[str]:
    missing = [] if signer is not None else ["--address"]
    if relay_key is None and not cold_only:
        missing.append("--relay-key")
    return missing


@click.command()
@_bundle
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON (for pipelines).")
@_relay_key
@_address
@_cold_only
@click.option(
    "--log-head",
    help="The SHA-256 of an evidence-log line the operator wrote down after signing; the log must hold it.",
)
@click.option(
    "--unpinned",
    is_flag=True,
    help="Accept a verdict without --address and --relay-key (it then proves only that the bundle agrees "
    "with itself): without this flag an unpinned run exits 1.",
)
def verify(
    bundle: Path,
    as_json: bool,
    relay_key: str | None,
    signer: str | None,
    cold_only: bool,
    log_head: str | None,
    unpinned: bool,
) -> int:
    """Check an evidence bundle (directory or .tar): every hash, every signature, the chain from the cold
    key's manifest to the relay's receipts, the evidence log, and that no secret is in it. One line per
    check: PASS or FAIL, the check, the artefact, why. Pin the keys the firm registered (--address,
    --relay-key): a bundle checked only against the keys it states could have been made by anyone."""
    from dydx_airgap.shared.evidence.files import load_bundle
    from dydx_airgap.shared.evidence.verify import verify_bundle
    from dydx_airgap.shared.progress import BatchProgress, wanted

    head = _log_head(log_head)
    files = load_bundle(bundle)
    with BatchProgress(wanted(as_json)) as progress:
        result = verify_bundle(
            files, _pinned(relay_key), cold_only, _signer(signer), log_head=head, progress=progress
        )
    missing = _unpinned(signer, relay_key, cold_only)
    accepted = result.ok and (not missing or unpinned)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "unpinned": missing, "accepted": accepted}, indent=2))
    else:
        for check in result.checks:
            say(check.line())
        failed = len(result.failures)
        verdict = f"all {len(result.checks)} checks pass" if result.ok else f"{failed} check(s) FAIL"
        if missing:
            verdict += (
                f", UNPINNED (no {' or '.join(missing)}): the bundle agrees with itself, not with the keys "
                "the firm registered" + ("" if unpinned else "; pass them, or --unpinned to accept this")
            )
        say(f"verdict: {verdict}")
    return 0 if accepted else 1


@click.command()
@_bundle
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@_relay_key
@_address
@_cold_only
def report(bundle: Path, html_out: Path, relay_key: str | None, signer: str | None, cold_only: bool) -> int:
    """Write a self-contained HTML page about a bundle for people: verdicts, timeline, every request decoded,
    fingerprints, QR codes of the public artefacts. No script, no external request. Exit 1 if a check fails
    (the page is written anyway and says which)."""
    from dydx_airgap.shared.audit.report import render_report
    from dydx_airgap.shared.evidence.files import load_bundle
    from dydx_airgap.shared.evidence.verify import verify_bundle
    from dydx_airgap.shared.progress import BatchProgress, wanted

    files = load_bundle(bundle)
    with BatchProgress(wanted(False)) as progress:
        result = verify_bundle(files, _pinned(relay_key), cold_only, _signer(signer), progress=progress)
        page = render_report(result, files, progress)
        progress.stage("writing the page")
        atomic_write_text(html_out, page)
    verdict = "all checks pass" if result.ok else f"{len(result.failures)} check(s) FAIL"
    say(f"wrote {html_out}: {verdict}")
    return 0 if result.ok else 1


@click.command()
@click.argument("dir_a", type=click.Path(path_type=Path))
@click.argument("dir_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(dir_a: Path, dir_b: Path, as_json: bool) -> int:
    """Compare two cold machines' outputs for the same inputs (directories or bundles): file by file, payloads
    field by field. Only random or time-based fields are ignored, and they are listed."""
    from dydx_airgap.shared.audit.compare import IGNORED, compare_outputs

    result = compare_outputs(dir_a, dir_b)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return 0 if result.identical else 1
    for item in IGNORED:
        say(f"ignored: {item}")
    for path in result.same:
        say(f"SAME {path}")
    for difference in result.differences:
        say(difference.line())
    for note in result.notes:
        say(f"note: {note}")
    for skipped in result.skipped:
        say(f"skipped: {skipped}")
    verdict = "identical" if result.identical else f"{len(result.differences)} difference(s)"
    say(f"verdict: {verdict}")
    return 0 if result.identical else 1
