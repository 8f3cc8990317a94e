"""Finding 2: a signature the relay sent cannot be left out of a bundle unnoticed.

The firm's cold machine signs into one evidence log; an insider signs a second request into another log
and the relay submits it. The bundle built from the first log must not pass pinned verification: the
relay's receipts list every submission and broadcast for the bundle's address and network, so the omitted
one appears as a receipt without its cold artefact. A log head written down after a signature that the
bundle's log lacks fails ``--log-head``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from dydx_airgap.shared.transport.payload import decode_payload
from tests.test_evidence import NETWORK, _approve_request, cold_run, ok

from .conftest import TEST_MNEMONIC, run_tool, write_secret


def _second_log_signature(root: Path, mnemonic: Path) -> tuple[Path, str]:
    """A recovery ladder signed into another evidence log; returns the file and the head printed."""
    other = root / "other"
    other.mkdir()
    r = run_tool(
        "dydx-offline", "sign", "recovery", "--mnemonic-file", mnemonic, "--network", NETWORK, "--yes",
        "--ladder-minutes", "1", "--evidence-log", other / "evidence.jsonl", "--out", other / "recovery.json",
    )  # fmt: skip
    assert r.code == 0, r
    head = re.search(r"head ([0-9a-f]{64})", r.err)
    return other / "recovery.json", head.group(1) if head else "none printed"


def test_a_signature_left_out_of_the_bundle_but_sent_by_the_relay_is_detected(tmp_path: Path, figure) -> None:
    from dydx_airgap.online.onchain.tx_journal import TxJournal
    from dydx_airgap.online.rehearsal.v3_api import start_local_api

    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    cold, state = tmp_path / "cold", tmp_path / "state"
    cold_run(tmp_path, mnemonic, cold, api_key=False)
    omitted, omitted_head = _second_log_signature(tmp_path, mnemonic)
    address = decode_payload((cold / "onboarding.json").read_bytes()).address
    assert address is not None
    relay_key = json.loads(ok("dydx-relay", "init-evidence-key", "--state", state, "--json"))["public_key"]
    with start_local_api(chain_id=int(NETWORK)) as api:
        for payload in (cold / "onboarding.json", omitted):
            ok("dydx-relay", "submit", payload, "--api", api.url, "--network", NETWORK, "--state", state)
    bundle = tmp_path / "bundle"
    ok(
        "dydx-offline", "evidence", "bundle", "--mnemonic-file", mnemonic, "--network", NETWORK,
        "--evidence-log", cold / "evidence.jsonl", "--from", cold, "--out", bundle,
    )  # fmt: skip
    detected = 0
    cases = 0

    def omission_detected(bundle_dir: Path, state_dir: Path) -> bool:
        added = run_tool("dydx-relay", "evidence", "add-receipts", bundle_dir, "--state", state_dir)
        verdict = run_tool("dydx-audit", "verify", bundle_dir, "--address", address, "--relay-key", relay_key)
        refused = added.code != 0 and "omits a signature" in added.err and "Traceback" not in added.err
        return refused and verdict.code != 0 and not (bundle_dir / "relay" / "receipts.json").exists()

    cases += 1
    detected += omission_detected(bundle, state)

    # The same with a broadcast: a transaction the relay sent for this address, signed into the other log.
    tx_state, tx_bundle = tmp_path / "tx-state", tmp_path / "tx-bundle"
    shutil.copytree(bundle, tx_bundle)
    ok("dydx-relay", "init-evidence-key", "--state", tx_state)
    request = tmp_path / "other" / "approve-request.json"
    request.write_bytes(_approve_request(address))
    ok(
        "dydx-offline", "sign", "tx", request, "--mnemonic-file", mnemonic, "--network", NETWORK, "--yes",
        "--out", tmp_path / "other" / "approve-signed.json", "--evidence-log", tmp_path / "other" / "evidence.jsonl",
    )  # fmt: skip
    signed = decode_payload((tmp_path / "other" / "approve-signed.json").read_bytes())
    with TxJournal.open(tx_state) as journal:  # what `dydx-relay broadcast` records, through its own API
        stored = journal.add_request(
            decode_payload(request.read_bytes()), nonce=0, max_cost_wei=2 * 10**14,
            rpc_origin="http://127.0.0.1:8545", api_origin="http://127.0.0.1:1",
        )  # fmt: skip
        journal.start_broadcast(
            signed.body["tx_hash"], stored.id, signed.body["raw"], "http://127.0.0.1:8545"
        )
        journal.update_broadcast(signed.body["tx_hash"], "mined", block_number=7, gas_used=46_000)
    cases += 1
    detected += omission_detected(tx_bundle, tx_state)
    figure(
        f"evidence: signatures sent by the relay but left out of the bundle detected in {detected} of {cases}"
    )
    assert detected == cases

    # The operator's paper record: the head printed after the omitted signature is not in the bundle's log.
    r = run_tool(
        "dydx-audit", "verify", bundle, "--cold-only", "--address", address, "--log-head", omitted_head
    )
    assert r.code == 1 and "FAIL log-head" in r.out, r
    own_log = (cold / "evidence.jsonl").read_bytes().splitlines()
    last = hashlib.sha256(own_log[-1]).hexdigest()
    r = run_tool("dydx-audit", "verify", bundle, "--cold-only", "--address", address, "--log-head", last)
    assert r.code == 0 and "PASS log-head" in r.out, r
    figure("evidence: a log head written down but missing from the bundle's log fails --log-head (1 of 1)")


def test_one_evidence_log_per_machine_when_the_setting_is_made(tmp_path: Path) -> None:
    mnemonic = write_secret(tmp_path / "mnemonic", TEST_MNEMONIC)
    setting = {"DYDX_AIRGAP_EVIDENCE_LOG": str(tmp_path / "machine.jsonl")}
    base = ["dydx-offline", "sign", "recovery", "--mnemonic-file", mnemonic, "--network", NETWORK, "--yes"]
    r = run_tool(
        *base, "--out", tmp_path / "a.json", "--evidence-log", tmp_path / "second.jsonl", env=setting
    )
    assert r.code != 0 and "one log per machine" in r.err and not (tmp_path / "a.json").exists(), r
    r = run_tool(*base, "--out", tmp_path / "b.json", env=setting)
    assert (
        r.code == 0 and (tmp_path / "machine.jsonl").exists() and str(tmp_path / "machine.jsonl") in r.err
    ), r
