"""export / import across the gap, as the operator runs them: QR images and files, both directions."""

from __future__ import annotations

import json
from pathlib import Path

import segno

from dydx_airgap.shared.transport.payload import decode_payload, new_payload
from dydx_airgap.shared.transport.qr_render import encode_frames, write_png_frames

from .conftest import assert_clean_failure, kit_vectors, origin_signer_for, run_tool
from .test_tamper_and_crash import sample_payloads


def test_every_cold_payload_crosses_as_qr_frames_and_reads_back_identical(tmp_path: Path) -> None:
    for i, data in enumerate(sample_payloads()[:3]):  # public-key, onboarding-request, eth-private-request
        src = tmp_path / f"p{i}.json"
        src.write_bytes(data)
        qr = tmp_path / f"qr{i}"
        r = run_tool(
            "dydx-offline",
            "export",
            src,
            "--qr-dir",
            qr,
            "--html",
            tmp_path / f"p{i}.html",
            "--json",
            cwd=tmp_path,
        )
        assert r.code == 0, r
        summary = json.loads(r.out)
        payload = decode_payload(data)
        assert summary["fingerprint"] == payload.fingerprint and summary["kind"] == payload.kind
        assert (tmp_path / f"p{i}.html").read_text().count("<svg") >= 1
        out = tmp_path / f"in{i}.json"
        r = run_tool("dydx-relay", "import", "--images", qr, "--out", out)
        assert r.code == 0, r
        assert out.read_bytes() == data
        for fragment in (payload.kind, str(payload.network_id), payload.address, payload.fingerprint):
            assert fragment in r.out


def test_exports_are_recorded_in_the_cold_evidence_log(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_bytes(sample_payloads()[0])
    assert run_tool("dydx-offline", "export", src, "--qr-dir", tmp_path / "qr", cwd=tmp_path).code == 0
    entry = json.loads((tmp_path / "dydx-evidence.jsonl").read_text().splitlines()[-1])
    assert (
        entry["event"] == "export"
        and entry["payload_sha256"] == decode_payload(src.read_bytes()).digest.hex()
    )


def test_relay_to_cold_direction_and_refusals(tmp_path: Path) -> None:
    time_payload = sample_payloads()[3]
    src = tmp_path / "t.json"
    src.write_bytes(time_payload)
    assert run_tool("dydx-relay", "export", src, "--qr-dir", tmp_path / "qr").code == 0
    r = run_tool(
        "dydx-offline", "import", "--images", tmp_path / "qr", "--out", tmp_path / "t-in.json", cwd=tmp_path
    )
    assert r.code == 0, r
    assert (tmp_path / "t-in.json").read_bytes() == time_payload
    # The wrong direction is refused on both sides, and nothing is written.
    r = run_tool("dydx-relay", "import", "--images", tmp_path / "qr", "--out", tmp_path / "no.json")
    assert_clean_failure(r, "not meant for the relay")
    assert not (tmp_path / "no.json").exists()
    r = run_tool("dydx-offline", "export", src, "--qr-dir", tmp_path / "qr2", cwd=tmp_path)
    assert_clean_failure(r, "does not export time")


def test_cold_import_screens_for_derivation_templates(tmp_path: Path) -> None:
    bad = new_payload(
        "time",
        1,
        None,
        {
            "server_time": "2026-01-01T00:00:00.000Z",
            "relay_time": "2026-01-01T00:00:00.000Z",
            "source": "sign dYdX Onboarding",
        },
    )
    src = tmp_path / "bad.json"
    src.write_bytes(bad.to_bytes())
    r = run_tool("dydx-offline", "import", "--file", src, "--out", tmp_path / "x.json", cwd=tmp_path)
    assert_clean_failure(r, "refused")
    assert not (tmp_path / "x.json").exists()


def test_foreign_mixed_and_corrupt_frames_are_errors_and_nothing_is_written(tmp_path: Path) -> None:
    a, b = sample_payloads()[1], sample_payloads()[2]
    qr = tmp_path / "mixed"
    qr.mkdir()
    frames_a = encode_frames(a, max_fragment_len=200)
    frames_b = encode_frames(b, max_fragment_len=200)
    write_png_frames(frames_a[:2], qr)
    (qr / "frame-0001.png").rename(qr / "a1.png")
    (qr / "frame-0002.png").rename(qr / "a2.png")
    write_png_frames(frames_b[:2], qr)
    r = run_tool("dydx-relay", "import", "--images", qr, "--out", tmp_path / "o.json")
    assert_clean_failure(r)
    assert not (tmp_path / "o.json").exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    segno.make_qr("https://example.com/login").save(str(foreign / "url.png"), scale=4)
    r = run_tool("dydx-relay", "import", "--images", foreign, "--out", tmp_path / "o.json")
    assert_clean_failure(r)
    assert not (tmp_path / "o.json").exists()

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_bytes(a[:-10])
    r = run_tool("dydx-relay", "import", "--file", corrupt, "--out", tmp_path / "o.json")
    assert_clean_failure(r)
    assert not (tmp_path / "o.json").exists()


def test_an_8kb_payload_crosses_as_animated_frames(tmp_path: Path, figure) -> None:
    # Build a large payload of a cold kind: a long ladder of rungs is the natural 8 KB payload.
    payload = json.loads(sample_payloads()[2])
    rung = payload["body"]["rungs"][0]
    rungs = []
    from datetime import timedelta

    from dydx_airgap.shared.timestamps import iso_ms, parse_iso_ms

    start = parse_iso_ms(rung["timestamp"])
    for i in range(50):
        rungs.append({"timestamp": iso_ms(start + timedelta(seconds=20 * i)), "signature": rung["signature"]})
    body = dict(payload["body"], rungs=rungs)
    body["valid_until"] = iso_ms(start + timedelta(seconds=20 * 49 + 30))
    signer = origin_signer_for(kit_vectors()[4]["eth_private_key"])
    big = new_payload("eth-private-request", 1, payload["address"], body, signer=signer).to_bytes()
    assert len(big) > 8000
    src = tmp_path / "big.json"
    src.write_bytes(big)
    r = run_tool("dydx-offline", "export", src, "--qr-dir", tmp_path / "qr", "--json", cwd=tmp_path)
    assert r.code == 0, r
    frames = json.loads(r.out)["frames"]
    assert frames > 8
    r = run_tool("dydx-relay", "import", "--images", tmp_path / "qr", "--out", tmp_path / "in.json")
    assert r.code == 0, r
    assert (tmp_path / "in.json").read_bytes() == big
    figure(
        f"transport: a {len(big)}-byte payload crossed as {frames} animated QR frames and read back identical"
    )
