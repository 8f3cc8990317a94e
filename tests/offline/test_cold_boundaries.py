"""The cold side's promises about its surroundings: no sockets, the doctor's verdicts, process hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from dydx_airgap.offline.diagnostics import doctor
from tests.conftest import KIT, REPO, TEST_MNEMONIC, run_tool, write_secret

NO_SOCKETS = """
import socket, sys
def refuse(*a, **k):
    raise RuntimeError("the cold package tried to open a socket")
socket.socket = refuse
socket.create_connection = refuse
socket.socketpair = refuse
socket.getaddrinfo = refuse
from dydx_airgap.offline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cold(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_SOCKETS, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )


def v4_request(tmp_path: Path) -> Path:
    from tests.offline.test_v4_cold import MAINNET_TXS, request_fields, write_request

    fields = request_fields(MAINNET_TXS["withdraw_subaccount_0_to_own_address"])
    return write_request(tmp_path / "v4req.json", fields)


def test_every_cold_flow_works_with_socket_creation_disabled(tmp_path: Path) -> None:
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    pw = write_secret(tmp_path / "pw", "a long keystore password")
    vp = write_secret(tmp_path / "vp", "vault pass")
    steps = [
        ["selftest"],
        ["keygen", "--out", "k.json", "--password-file", pw, "--mnemonic-out", "m.txt"],
        [
            "derive",
            "--keystore",
            "k.json",
            "--password-file",
            pw,
            "--network",
            "1",
            "--out",
            "d",
            "--vault-password-file",
            vp,
        ],
        [
            "derive",
            "--mnemonic-file",
            mn,
            "--network",
            "5",
            "--accounts",
            "0-3",
            "--out",
            "d5",
            "--vault-password-file",
            vp,
        ],
        ["sign", "onboarding", "--mnemonic-file", mn, "--network", "5", "--out", "onb.json", "--yes"],
        [
            "handoff",
            "--to",
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",  # age's documented example
            "--vault",
            "d5",
            "--vault-password-file",
            vp,
            "--mnemonic-file",
            mn,
            "--network",
            "5",
            "--accounts",
            "0-1",
            "--out",
            "sealed.json",
            "--yes",
        ],
        ["sign", "api-key", "create", "--mnemonic-file", mn, "--network", "5", "--out", "ak.json", "--yes"],
        ["sign", "recovery", "--mnemonic-file", mn, "--network", "5", "--out", "rec.json", "--yes"],
        ["recover", "--mnemonic-file", mn, "--network", "5", "--match", "0x1"],  # no match: exit 1, cleanly
        ["doctor", "--skip-dns", "--allow-online"],
        [
            "derive-v4",
            "--mnemonic-file",
            mn,
            "--v4-network",
            "mainnet",
            "--out",
            "d4",
            "--vault-password-file",
            vp,
        ],
        ["selftest", "--vectors", str(KIT / "vectors" / "dydx-v4.json")],
        [
            "sign",
            "v4",
            v4_request(tmp_path),
            "--mnemonic-file",
            mn,
            "--v4-network",
            "mainnet",
            "--out",
            "v4s.json",
            "--yes",
        ],
    ]
    for step in steps:
        proc = cold(*step, cwd=tmp_path)
        assert "tried to open a socket" not in proc.stderr + proc.stdout, (step, proc.stderr)
        assert "Traceback" not in proc.stderr, (step, proc.stderr)
        expected = 1 if step[0] == "recover" else 0
        assert proc.returncode == expected, (step, proc.returncode, proc.stderr)
    assert (tmp_path / "onb.json").exists() and (tmp_path / "d5" / "vault.dydx-vault").exists()
    assert (tmp_path / "sealed.json").exists() and (tmp_path / "sealed.json.age").exists()
    assert (tmp_path / "v4s.json").exists() and (tmp_path / "d4" / "vault.dydx-vault").exists()


def test_doctor_interfaces_and_routes_from_fake_trees(tmp_path: Path) -> None:
    net = tmp_path / "net"
    for name, state, carrier in (("lo", "unknown", "1"), ("eth0", "down", "0"), ("wlan0", "down", "0")):
        (net / name).mkdir(parents=True)
        (net / name / "operstate").write_text(state + "\n")
        (net / name / "carrier").write_text(carrier + "\n")
    assert doctor.check_interfaces(net).verdict == doctor.OK
    (net / "wlan0" / "operstate").write_text("up\n")
    check = doctor.check_interfaces(net)
    assert check.verdict == doctor.FAIL and "wlan0" in check.detail and check.online_evidence

    proc = tmp_path / "proc"
    proc.mkdir()
    header = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
    (proc / "route").write_text(header + "eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    (proc / "ipv6_route").write_text("")
    assert doctor.check_default_route(proc).verdict == doctor.OK
    (proc / "route").write_text(header + "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    assert doctor.check_default_route(proc).verdict == doctor.FAIL


def test_doctor_clock_swap_and_lock(tmp_path: Path) -> None:
    assert doctor.check_clock(datetime(2026, 11, 25, tzinfo=UTC)).verdict == doctor.OK
    assert doctor.check_clock(datetime(1970, 1, 1, tzinfo=UTC)).verdict == doctor.FAIL
    swaps = tmp_path / "swaps"
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n")
    assert doctor.check_swap(swaps).verdict == doctor.OK
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1024 0 -2\n")
    assert doctor.check_swap(swaps).verdict == doctor.WARN
    lock = doctor.load_lock()
    assert "eth-account" in lock and "coincurve" in lock
    assert doctor.check_versions(lock).verdict == doctor.OK
    assert doctor.check_versions(lock | {"coincurve": "0.0.1"}).verdict == doctor.WARN


def test_doctor_cli_verdict_matches_its_checks(tmp_path: Path) -> None:
    r = run_tool("dydx-offline", "doctor", "--json", "--skip-dns", "--evidence-log", tmp_path / "log")
    report = json.loads(r.out)
    online = report["online"]
    assert r.code == (1 if online else 0)
    assert {c["name"] for c in report["checks"]} >= {"network interfaces", "default route", "self-test"}
    if online:
        r2 = run_tool(
            "dydx-offline", "doctor", "--skip-dns", "--allow-online", "--evidence-log", tmp_path / "log"
        )
        assert r2.code == 0
        entry = json.loads((tmp_path / "log").read_text().splitlines()[-1])
        assert entry["event"] == "doctor-override"


def test_secret_commands_run_without_core_dumps() -> None:
    code = (
        "import resource; from dydx_airgap.offline.hygiene import harden_process, process_is_dumpable\n"
        "harden_process()\n"
        "assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)\n"
        "assert process_is_dumpable() is False\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
