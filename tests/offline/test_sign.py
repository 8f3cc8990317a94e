"""Cold-side signing: reference signatures, ladders, review, confirmation, evidence log."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from dydx_airgap.offline.evidence.log import append_entry, read_log
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.signing.clock import Clock
from dydx_airgap.offline.signing.requests import build_eth_private_request, ladder_timestamps
from dydx_airgap.shared.display import escape_for_display
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature, verify_onboarding_signature
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.timestamps import now_utc, parse_iso_ms
from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from tests.conftest import assert_clean_failure, kit_vectors, run_tool

VECTORS = kit_vectors()


def clock_at(moment_text: str) -> Clock:
    # The vectors' timestamps are years old: a clock set to them is one the operator accepted explicitly.
    offset = parse_iso_ms(moment_text) - now_utc()
    return Clock(offset, "test", bound=abs(offset) + timedelta(minutes=1))


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_ladder_rung_equals_reference_signature(v: dict) -> None:
    key = ColdKey(Secret(bytes.fromhex(v["eth_private_key"][2:])))
    network = get_network(v["network_id"])
    for action in v["eth_private_actions"]:
        kind = {"POST": "api-key-create", "DELETE": "api-key-delete", "GET": "recovery"}[action["method"]]
        api_key = action["request_path"].split("apiKey=")[1] if kind == "api-key-delete" else None
        # A clock that reads exactly the vector's timestamp: the first rung is signed at it.
        clock = clock_at(action["timestamp"])
        timestamps = ladder_timestamps(clock, 0, 20, 0)
        ts = timestamps[0].strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamps[0].microsecond // 1000:03d}Z"
        if ts != action["timestamp"]:  # the clock moved past a millisecond boundary; pin it
            timestamps = [parse_iso_ms(action["timestamp"])]
        request = build_eth_private_request(network, key, kind, api_key, timestamps, clock)
        rung = request.payload.body["rungs"][0]
        assert rung["timestamp"] == action["timestamp"]
        assert rung["signature"] == action["signature"]


def test_ladder_shape_and_validity() -> None:
    clock = Clock(timedelta(seconds=-7), "test")
    stamps = ladder_timestamps(clock, 5, 20, 30)
    assert len(stamps) == 16
    assert all((b - a) == timedelta(seconds=20) for a, b in itertools.pairwise(stamps))
    assert abs((stamps[0] - (now_utc() - timedelta(seconds=7) + timedelta(seconds=30))).total_seconds()) < 2
    key = ColdKey(Secret(bytes.fromhex(VECTORS[0]["eth_private_key"][2:])))
    req = build_eth_private_request(get_network(1), key, "api-key-create", None, stamps, clock)
    body = req.payload.body
    assert parse_iso_ms(body["valid_from"]) == stamps[0] - timedelta(seconds=30)
    assert parse_iso_ms(body["valid_until"]) == stamps[-1] + timedelta(seconds=30)
    assert req.payload.expires == body["valid_until"]
    for rung in body["rungs"]:
        verify_eth_private_signature(
            1, "POST", "/v3/api-keys", "{}", rung["timestamp"], rung["signature"], key.address
        )
    assert len({r["signature"] for r in body["rungs"]}) == 16
    for bad in ((5, 0, 0), (5, 61, 0), (31, 20, 0), (0, 20, -1)):
        with pytest.raises(InputError):
            ladder_timestamps(clock, *bad)


def test_sign_onboarding_cli_matches_vector(tmp_path: Path, keystore) -> None:
    ks, pw, address = keystore
    v = VECTORS[4]
    out = tmp_path / "onb.json"
    log = tmp_path / "log.jsonl"
    r = run_tool(
        "dydx-offline",
        "sign",
        "onboarding",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--json",
        "--evidence-log",
        log,
        "--country",
        "CH",
    )
    assert r.code == 0, r
    result = json.loads(r.out)
    payload = decode_payload(out.read_bytes())
    assert result["fingerprint"] == payload.fingerprint
    assert payload.body["signature"] == v["onboarding_signature"]
    assert json.loads(payload.body["body"]) == {
        "starkKey": hex(int(v["stark_public_key"], 16)),
        "starkKeyYCoordinate": hex(int(v["stark_public_key_y_coordinate"], 16)),
        "country": "CH",
    }
    verify_onboarding_signature(1, payload.body["signature"], address)
    assert "DEFAULT API credentials" in r.err  # the review went to stderr with --json, warning included
    assert "REVIEW" in r.err and payload.fingerprint in r.err
    entries = read_log(log)
    assert len(entries) == 1
    assert entries[0]["payload_sha256"] == payload.digest.hex()
    assert entries[0]["confirmation"] == "scripted (--yes)"
    for secret in (v["stark_key_signature"][2:], v["api_key"]["secret"], v["api_key"]["passphrase"]):
        assert secret not in out.read_text() + r.out + r.err + log.read_text()


def test_sign_api_key_ladder_cli(tmp_path: Path, keystore) -> None:
    ks, pw, _address = keystore
    out = tmp_path / "ak.json"
    r = run_tool(
        "dydx-offline",
        "sign",
        "api-key",
        "create",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--ladder-minutes",
        "3",
        "--ladder-step",
        "30",
        "--evidence-log",
        tmp_path / "log",
    )
    assert r.code == 0, r
    payload = decode_payload(out.read_bytes())
    assert payload.kind == "eth-private-request"
    assert len(payload.body["rungs"]) == 7
    assert payload.fingerprint in r.out


def test_sign_delete_validates_key_before_asking_for_secrets(tmp_path: Path, keystore) -> None:
    ks, _, _ = keystore
    out = tmp_path / "d.json"
    r = run_tool(
        "dydx-offline",
        "sign",
        "api-key",
        "delete",
        "--key",
        "../../etc/passwd",
        "--keystore",
        ks,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--evidence-log",
        tmp_path / "log",
    )
    assert_clean_failure(r, "UUID")
    assert not out.exists() and not (tmp_path / "log").exists()


def test_no_terminal_and_no_yes_signs_nothing(tmp_path: Path, keystore) -> None:
    ks, pw, _ = keystore
    out = tmp_path / "o.json"
    r = run_tool(
        "dydx-offline",
        "sign",
        "recovery",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--evidence-log",
        tmp_path / "log",
    )
    assert_clean_failure(r, "--yes")
    assert not out.exists() and not (tmp_path / "log").exists()


def test_existing_output_is_never_overwritten(tmp_path: Path, keystore) -> None:
    ks, pw, _ = keystore
    out = tmp_path / "o.json"
    out.write_text("keep me")
    r = run_tool(
        "dydx-offline",
        "sign",
        "recovery",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--evidence-log",
        tmp_path / "log",
    )
    assert_clean_failure(r, "already exists")
    assert out.read_text() == "keep me"


def test_time_payload_sets_the_clock_and_must_match_network(tmp_path: Path, keystore) -> None:
    ks, pw, _ = keystore
    server = now_utc() + timedelta(minutes=4)
    stamp = server.strftime("%Y-%m-%dT%H:%M:%S.") + f"{server.microsecond // 1000:03d}Z"
    tp = new_payload(
        "time", 1, None, {"server_time": stamp, "relay_time": stamp, "source": "http://127.0.0.1"}
    )
    tfile = tmp_path / "time.json"
    tfile.write_bytes(tp.to_bytes())
    out = tmp_path / "r.json"
    r = run_tool(
        "dydx-offline",
        "sign",
        "recovery",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        out,
        "--yes",
        "--ladder-minutes",
        "0",
        "--clock-from",
        tfile,
        "--evidence-log",
        tmp_path / "log",
    )
    assert r.code == 0, r
    first = parse_iso_ms(decode_payload(out.read_bytes()).body["rungs"][0]["timestamp"])
    assert abs((first - server).total_seconds()) < 5
    assert re.search(r"\+2[34]\d\.\d s from time payload", r.out)  # the ~240 s offset is on the review
    r = run_tool(
        "dydx-offline",
        "sign",
        "recovery",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "5",
        "--out",
        tmp_path / "r5.json",
        "--yes",
        "--clock-from",
        tfile,
        "--evidence-log",
        tmp_path / "log",
    )
    assert_clean_failure(r, "network")


def test_time_payload_carrying_a_derivation_template_is_refused(tmp_path: Path, keystore) -> None:
    ks, pw, _ = keystore
    stamp = "2026-01-01T00:00:00.000Z"
    tp = new_payload("time", 1, None, {"server_time": stamp, "relay_time": stamp, "source": "dYdX STARK Key"})
    tfile = tmp_path / "time.json"
    tfile.write_bytes(tp.to_bytes())
    r = run_tool(
        "dydx-offline",
        "sign",
        "recovery",
        "--keystore",
        ks,
        "--password-file",
        pw,
        "--network",
        "1",
        "--out",
        tmp_path / "x.json",
        "--yes",
        "--clock-from",
        tfile,
        "--evidence-log",
        tmp_path / "log",
    )
    assert_clean_failure(r, "refused", "extract your keys")
    assert not (tmp_path / "x.json").exists()


def test_evidence_log_detects_edits(tmp_path: Path) -> None:
    log = tmp_path / "log"
    for i in range(3):
        append_entry(log, "sign", {"n": i})
    assert [e["n"] for e in read_log(log)] == [0, 1, 2]
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])  # a line removed
    with pytest.raises(VerificationError, match="chain breaks"):
        read_log(log)
    with pytest.raises(VerificationError):
        append_entry(log, "sign", {"n": 3})
    log.write_bytes(b"".join(lines).replace(b'"n":1', b'"n":7'))
    with pytest.raises(VerificationError, match="chain breaks"):
        read_log(log)
    log.write_bytes(b"".join(lines)[:-5])
    with pytest.raises(VerificationError, match="partial line"):
        read_log(log)


HIDDEN = [
    chr(c)
    for c in (
        *range(0, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x2060,
        0xFEFF,
        0x061C,
        0x2028,
        0x2029,
    )
]


def test_display_escapes_every_control_bidi_and_invisible_character() -> None:
    for ch in HIDDEN:
        shown = escape_for_display(f"pay{ch}me")
        assert ch not in shown
        assert f"\\u{{{ord(ch):04x}}}" in shown
    assert escape_for_display("Zürich 日本 ok") == "Zürich 日本 ok"
