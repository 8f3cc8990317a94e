"""`dydx-audit escape-proof`: a user or auditor checks the explorer's escape data with no key and no network."""

from __future__ import annotations

import html
import json
from pathlib import Path

from tests.conftest import KIT, assert_clean_failure, run_tool

VECTOR = json.loads((KIT / "vectors" / "escape-mainnet-pos1.json").read_text())


def _explorer_page(tmp_path: Path, vector: dict) -> Path:
    props = {
        "escapeVerifierAddress": "0x626211C1e9BC633f4D342Af99f4E8bc93f11F3DD",
        "positionOrVaultId": str(vector["position_id"]),
        "starkKey": vector["stark_key"],
        "tradingMode": "perpetual",
        "assetCount": vector["n_assets"],
        "serializedMerkleProof": [str(int(w, 16)) for w in vector["merkle_proof"]],
        "serializedState": [str(int(w, 16)) for w in vector["shared_state"]],
    }
    page = tmp_path / "escape-1.html"
    page.write_text(
        "<!doctype html><html><body><main>"
        f'<form id="verify-escape-request-form" data-props="{html.escape(json.dumps(props))}">'
        "<button>Initiate escape</button></form></main></body></html>"
    )
    return page


def test_the_saved_explorer_page_of_mainnet_position_1_is_valid_and_shows_the_amount(tmp_path: Path) -> None:
    result = run_tool("dydx-audit", "escape-proof", _explorer_page(tmp_path, VECTOR))
    assert result.code == 0, result
    assert "21899778.005454 USDC (21899778005454 base units)" in result.out
    assert VECTOR["escape_fact"] in result.out and VECTOR["shared_state_hash"] in result.out
    assert "0x027cda895fbaa174bf10c8e0f57561fa9aa6a93cfec32b87f1bdfe55a161e358" in result.out


def test_json_output_carries_the_amount_and_fact(tmp_path: Path) -> None:
    vector_file = tmp_path / "vector.json"
    vector_file.write_text(json.dumps(VECTOR))
    result = run_tool("dydx-audit", "escape-proof", vector_file, "--json")
    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["amount"] == "21899778005454" and report["fact"] == VECTOR["escape_fact"]
    assert report["position_id"] == "1" and report["valid"] is True


def test_a_tampered_proof_exits_1_with_the_contracts_reason(tmp_path: Path) -> None:
    tampered = dict(VECTOR)
    proof = list(VECTOR["merkle_proof"])
    proof[77] = hex(int(proof[77], 16) ^ 1 << 90)
    tampered["merkle_proof"] = proof
    page = _explorer_page(tmp_path, tampered)
    result = run_tool("dydx-audit", "escape-proof", page)
    assert_clean_failure(result, "Bad Merkle path.")
    as_json = run_tool("dydx-audit", "escape-proof", page, "--json")
    assert as_json.code == 1 and json.loads(as_json.out) == {"valid": False, "reason": "Bad Merkle path."}


def test_a_proof_for_another_stark_key_than_the_page_states_is_refused(tmp_path: Path) -> None:
    other = dict(VECTOR, stark_key="0x" + "0" * 63 + "5")
    result = run_tool("dydx-audit", "escape-proof", _explorer_page(tmp_path, other))
    assert_clean_failure(result, "not the stated")


def test_a_truncated_explorer_page_is_a_one_line_error(tmp_path: Path) -> None:
    page = _explorer_page(tmp_path, VECTOR)
    text = page.read_text()
    page.write_text(text[: len(text) // 3])
    assert_clean_failure(run_tool("dydx-audit", "escape-proof", page), "no escape form")
    missing = run_tool("dydx-audit", "escape-proof", tmp_path / "absent.html")
    assert_clean_failure(missing, "no such file")
