"""Audit benchmark: `dydx-audit verify` on a generated evidence bundle of 1,000 artefacts (target <= 2 s).

    .venv/bin/python bench/bench_audit.py [--artefacts 1000] [--repeat 5] [--quick]

The bundle is made by the real code: payloads signed by a cold key (offline/ builders), the bundle written by
``offline.evidence.bundle.build_bundle`` (which verifies it before writing, then reads it back), receipts
for every request signed with a fresh Ed25519 key, and the deterministic archive. Its mix: one public key,
one onboarding request, 100 tx-request + signed-tx pairs (approve), the evidence log, and the rest
api-key-create ladders of 4 rungs. The key is derived from a fixed seed with SHA-256 (P7 passes the test
mnemonic's account 0 instead), so every run measures the same bundle shape.
Prints markdown; asserts nothing (run by bench/run.py as section P4). ``bench_verify`` is the function.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from dydx_airgap.offline.evidence.bundle import build_bundle
from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.offline.keys.derive import public_payload
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.offline.signing.clock import LOCAL_CLOCK
from dydx_airgap.offline.signing.requests import build_eth_private_request, build_onboarding_request
from dydx_airgap.shared import __version__
from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.dydx_v3.calldata import ApproveCall
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.ethereum.transaction import Eip1559Transaction
from dydx_airgap.shared.evidence.files import load_bundle, write_bundle_archive, write_bundle_dir
from dydx_airgap.shared.evidence.receipts import (
    build_receipts,
    encode_receipts_signature,
    receipts_signing_message,
)
from dydx_airgap.shared.evidence.verify import verify_bundle
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.timestamps import iso_ms, now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload

REPO = Path(__file__).resolve().parent.parent
AUDIT = Path(sys.executable).parent / "dydx-audit"
NETWORK = get_network(31337)
TX_PAIRS = 100
TARGET_SECONDS = 2.0
ANSWER = '{"apiKey":{"key":"k","passphrase":"<redacted>","secret":"<redacted>"}}'


@dataclass(frozen=True)
class Measured:
    artefacts: int
    bundle_bytes: int
    cli_dir: float
    cli_tar: float
    in_process: float
    checks: int
    ok: bool


def _log_line(entries: list[bytes], fields: dict[str, Any]) -> None:
    """One evidence-log line in the cold side's format (offline/evidence/log.py), chained to the last."""
    previous = hashlib.sha256(entries[-1]).hexdigest() if entries else "0" * 64
    entry = {
        "format": "dydx-airgap-evidence-log/1",
        "seq": len(entries) + 1,
        "prev": previous,
        "time": iso_ms(now_utc()),
        "event": "sign",
        "tool_version": __version__,
        **fields,
    }
    entries.append(canonical_dumps(entry))


def _signed(
    key: ColdKey, log: list[bytes], out: Path, name: str, payload: Payload, digests: list[str]
) -> None:
    (out / name).write_bytes(payload.to_bytes())
    extra = {}
    if payload.kind == "signed-tx":
        extra = {"tx_hash": payload.body["tx_hash"], "request_sha256": payload.body["request_sha256"]}
    _log_line(
        log,
        {
            "kind": payload.kind,
            "payload_id": payload.id,
            "payload_sha256": payload.digest.hex(),
            "fingerprint": payload.fingerprint,
            "network_id": payload.network_id,
            "address": payload.address,
            "account": 0,
            "eip712_digests": digests,
            "confirmation": "scripted (--yes)",
            "file": name,
            **extra,
        },
    )


def _tx_pair(key: ColdKey, nonce: int) -> tuple[Payload, Payload]:
    data = ApproveCall(NETWORK.stark_perpetual, 1_000_000 * (nonce + 1)).encode()
    fields = {
        "chain_id": NETWORK.chain_id,
        "nonce": nonce,
        "max_priority_fee_per_gas": 10**9,
        "max_fee_per_gas": 2 * 10**9,
        "gas_limit": 100_000,
        "to": NETWORK.usdc,
        "value": 0,
        "data": "0x" + data.hex(),
    }
    body = {
        "action": "approve",
        "transaction": fields,
        "context": {
            "stark_public_key": "0x" + "11" * 32,
            "position_id": None,
            "amount": str(nonce + 1),
            "base_fee_per_gas": 10**9,
            "gas_estimate": 60_000,
            "rpc": "http://127.0.0.1",
        },
    }
    request = new_payload("tx-request", NETWORK.chain_id, key.address, body, expires_in=timedelta(hours=1))
    tx = Eip1559Transaction(
        chain_id=NETWORK.chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=10**9,
        max_fee_per_gas=2 * 10**9,
        gas_limit=100_000,
        to=bytes.fromhex(NETWORK.usdc[2:]),
        value=0,
        data=data,
    )
    signed = key.sign_transaction(tx)
    payload = new_payload(
        "signed-tx",
        NETWORK.chain_id,
        key.address,
        {
            "action": "approve",
            "raw": "0x" + signed.raw().hex(),
            "tx_hash": "0x" + signed.tx_hash.hex(),
            "request_sha256": request.digest.hex(),
        },
        answers=request.id,
        signer=key.origin_signer(),
    )
    return request, payload


def generate_bundle(root: Path, artefacts: int, key: ColdKey | None = None) -> Path:
    """Write cold outputs (``root/cold``, the log ``root/evidence.jsonl``), build the bundle with the real
    bundler, add signed receipts; returns the bundle. ``key``: the cold key (default: the fixed seed's)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if key is None:
        key = ColdKey(Secret(hashlib.sha256(b"dydx-airgap audit bench key").digest()))
    cold = root / "cold"
    cold.mkdir()
    log: list[bytes] = []
    derived = derive_account(key, NETWORK.chain_id)
    (cold / "public.json").write_bytes(public_payload(NETWORK, AccountKey(0, None, key), derived).to_bytes())
    onboarding = build_onboarding_request(
        key, NETWORK, 0, derived, None, None, timedelta(hours=24), LOCAL_CLOCK
    )
    _signed(key, log, cold, "onboarding.json", onboarding.payload, onboarding.eip712_digests)
    pairs = min(TX_PAIRS, max(0, (artefacts - 4) // 4))
    for nonce in range(pairs):
        request, signed = _tx_pair(key, nonce)
        (cold / f"tx-request-{nonce:04d}.json").write_bytes(request.to_bytes())
        _signed(key, log, cold, f"signed-tx-{nonce:04d}.json", signed, [])
    ladders = artefacts - 3 - 2 * pairs
    start = now_utc() + timedelta(minutes=5)
    for i in range(ladders):
        stamps = [start + timedelta(seconds=20 * r + i) for r in range(4)]
        made = build_eth_private_request(NETWORK, key, "api-key-create", None, stamps, LOCAL_CLOCK)
        _signed(key, log, cold, f"apikey-{i:04d}.json", made.payload, made.eip712_digests)
    log_path = root / "evidence.jsonl"
    log_path.write_bytes(b"".join(line + b"\n" for line in log))
    bundle = root / "bundle"
    built = build_bundle(key, NETWORK, log_path, [cold], bundle)
    relay_key = Ed25519PrivateKey.generate()
    public = relay_key.public_key().public_bytes_raw()
    submissions = []
    for art in built.manifest.artefacts:
        payload = built.verification.payloads.get(art.path)
        if payload is None or payload.kind not in ("onboarding-request", "eth-private-request"):
            continue
        body = payload.body
        rung = body.get("rungs", [{}])[0]
        headers = {"DYDX-ETHEREUM-ADDRESS": key.address}
        if rung:
            headers |= {"DYDX-SIGNATURE": rung["signature"], "DYDX-TIMESTAMP": rung["timestamp"]}
        submissions.append(
            {
                "manifest_sha256": built.manifest_sha256,
                "journal_entry": len(submissions) + 1,
                "payload_sha256": art.sha256,
                "payload_id": payload.id,
                "kind": payload.kind,
                "action": body.get("action", "onboarding"),
                "network_id": payload.network_id,
                "address": key.address,
                "api_origin": "http://127.0.0.1:8080",
                "state": "accepted",
                "note": None,
                "result": {"created_key": "00000000-0000-0000-0000-000000000000"},
                "created_at": iso_ms(now_utc()),
                "updated_at": iso_ms(now_utc()),
                "exchanges": [
                    {
                        "purpose": "submit",
                        "attempt": 1,
                        "method": body["method"],
                        "path": body["request_path"],
                        "request_headers": headers,
                        "request_body": body["body"],
                        "started_at": iso_ms(now_utc()),
                        "finished_at": iso_ms(now_utc()),
                        "status": 200,
                        "response_body": ANSWER,
                        "failure": None,
                        "may_have_taken_effect": False,
                    }
                ],
            }
        )
    receipts = build_receipts(
        tool_version=__version__,
        created=iso_ms(now_utc()),
        manifest_sha256=built.manifest_sha256,
        relay_public_key=public.hex(),
        submissions=submissions,
        transactions=[],
    )
    digest = hashlib.sha256(receipts).digest()
    signature = relay_key.sign(receipts_signing_message(digest))
    write_bundle_dir(
        bundle,
        {
            "relay/receipts.json": receipts,
            "relay/receipts.sig": encode_receipts_signature(public, digest, signature),
        },
    )
    return bundle


def _cli(target: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            [str(AUDIT), "verify", str(target), "--unpinned"], capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"dydx-audit verify failed on the generated bundle: {result.stdout[-400:]}")
    return statistics.median(times)


def bench_verify(artefacts: int = 1000, repeat: int = 5) -> Measured:
    """Generate a bundle of ``artefacts`` artefacts and time verification (median of ``repeat`` runs)."""
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        bundle = generate_bundle(root, artefacts)
        files = load_bundle(bundle)
        tar = root / "bundle.tar"
        write_bundle_archive(tar, files.files)
        in_process = []
        result = verify_bundle(files)
        for _ in range(repeat):
            start = time.perf_counter()
            result = verify_bundle(load_bundle(bundle))
            in_process.append(time.perf_counter() - start)
        count = len(result.manifest.artefacts) if result.manifest else 0
        return Measured(
            artefacts=count,
            bundle_bytes=tar.stat().st_size,
            cli_dir=_cli(bundle, repeat),
            cli_tar=_cli(tar, repeat),
            in_process=statistics.median(in_process),
            checks=len(result.checks),
            ok=result.ok,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artefacts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one timed run of each")
    args = parser.parse_args()
    m = bench_verify(args.artefacts, 1 if args.quick else args.repeat)
    met = "met" if m.cli_tar <= TARGET_SECONDS and m.cli_dir <= TARGET_SECONDS else "NOT met"
    print("#### dydx-audit verify on a generated bundle\n")
    print(
        f"{m.artefacts} artefacts, archive {m.bundle_bytes / 1e6:.2f} MB, {m.checks} check lines, verdict "
        f"{'PASS' if m.ok else 'FAIL'}; median of {1 if args.quick else args.repeat} run(s).\n"
    )
    print("| what | seconds | target |")
    print("|---|---:|---|")
    print(f"| `dydx-audit verify BUNDLE/` (whole process) | {m.cli_dir:.3f} | <= {TARGET_SECONDS} s: {met} |")
    print(f"| `dydx-audit verify BUNDLE.tar` (whole process) | {m.cli_tar:.3f} | <= {TARGET_SECONDS} s |")
    print(f"| `verify_bundle` in process (read + every check) | {m.in_process:.3f} | |")
    print(f"\nPer artefact (in process): {1000 * m.in_process / max(m.artefacts, 1):.2f} ms.")


if __name__ == "__main__":
    main()
