"""The air-gap self-check a cold machine runs before use.

Each check gives a verdict (ok / warn / FAIL) and one line of detail. The machine counts as online — and
`doctor` exits non-zero — if any non-loopback interface is up, a default route exists, or a DNS lookup
succeeds. All of it is read from /proc and /sys, and the DNS attempt runs in a child process (getent), so the
cold package itself still never imports a network module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

OK, WARN, FAIL = "ok", "warn", "FAIL"
#: Clocks before this are surely wrong (the tool did not exist); after it, surely wrong too.
EARLIEST = datetime(2025, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
DNS_PROBE_NAME = "api.dydx.exchange"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str
    detail: str
    online_evidence: bool = False


def check_interfaces(sys_net: Path = Path("/sys/class/net")) -> Check:
    if not sys_net.is_dir():
        return Check("network interfaces", WARN, f"{sys_net} not readable: cannot tell")
    up = []
    for iface in sorted(sys_net.iterdir()):
        if iface.name == "lo":
            continue
        try:
            state = (iface / "operstate").read_text().strip()
            carrier = (iface / "carrier").read_text().strip() if (iface / "carrier").exists() else ""
        except OSError:
            continue
        if state == "up" or (state == "unknown" and carrier == "1"):
            up.append(iface.name)
    if up:
        return Check("network interfaces", FAIL, f"up: {', '.join(up)} — unplug or disable them", True)
    return Check("network interfaces", OK, "only loopback is up")


def check_default_route(proc_net: Path = Path("/proc/net")) -> Check:
    routes = []
    try:
        for line in (proc_net / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and fields[1] == "00000000":
                routes.append(f"IPv4 via {fields[0]}")
    except OSError:
        pass
    try:
        for line in (proc_net / "ipv6_route").read_text().splitlines():
            fields = line.split()
            if len(fields) == 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                routes.append(f"IPv6 via {fields[9]}")
    except OSError:
        pass
    if routes:
        return Check("default route", FAIL, "; ".join(sorted(set(routes))), True)
    return Check("default route", OK, "none")


def check_dns(timeout: float = 3.0) -> Check:
    getent = shutil.which("getent")
    if getent is None:
        return Check("DNS resolution", WARN, "getent not found: could not attempt a lookup")
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [getent, "ahosts", DNS_PROBE_NAME], capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Check("DNS resolution", OK, f"lookup of {DNS_PROBE_NAME} timed out")
    if result.returncode == 0 and result.stdout.strip():
        return Check(
            "DNS resolution", FAIL, f"{DNS_PROBE_NAME} resolves: this machine reaches a resolver", True
        )
    return Check("DNS resolution", OK, f"{DNS_PROBE_NAME} does not resolve")


def check_clock(now: datetime | None = None) -> Check:
    moment = now or datetime.now(UTC)
    if not EARLIEST <= moment <= LATEST:
        return Check("clock", FAIL, f"{moment:%Y-%m-%d %H:%M} UTC is implausible: set the clock")
    return Check(
        "clock", OK, f"{moment:%Y-%m-%d %H:%M:%S} UTC (compare with a watch; 'sign --clock-from' corrects it)"
    )


def check_swap(proc_swaps: Path = Path("/proc/swaps")) -> Check:
    try:
        lines = proc_swaps.read_text().splitlines()[1:]
    except OSError:
        return Check("swap", WARN, "cannot read /proc/swaps")
    if lines:
        return Check(
            "swap", WARN, "swap is on: secrets in memory may reach a disk; prefer a live OS without swap"
        )
    return Check("swap", OK, "off")


def check_versions(lock: dict[str, str]) -> Check:
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    mismatched = []
    for name, wanted in sorted(lock.items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name} missing (lock {wanted})")
            continue
        if have != wanted:
            mismatched.append(f"{name} {have} (lock {wanted})")
    if mismatched:
        return Check(
            "python and packages", WARN, f"Python {py}; differs from the lock: {', '.join(mismatched[:6])}"
        )
    return Check("python and packages", OK, f"Python {py}; {len(lock)} packages match the lock")


def load_lock() -> dict[str, str]:
    from importlib import resources

    text = resources.files("dydx_airgap.offline").joinpath("data/lock.txt").read_text()
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def check_hygiene() -> Check:
    import resource

    from dydx_airgap.offline.hygiene import harden_process, process_is_dumpable

    harden_process()
    core = resource.getrlimit(resource.RLIMIT_CORE)
    dumpable = process_is_dumpable()
    if core != (0, 0) or dumpable:
        return Check("process hygiene", WARN, f"core limit {core}, dumpable {dumpable}")
    return Check("process hygiene", OK, "core dumps off, process not dumpable")


def check_selftest() -> Check:
    from dydx_airgap.offline.diagnostics.selftest import run_selftest

    results = run_selftest(None)
    failed = [r.name for r in results if not r.passed]
    if failed:
        return Check("self-test", FAIL, f"{len(failed)} reference vectors fail: {', '.join(failed[:4])}")
    return Check("self-test", OK, f"{len(results)} reference vectors pass")


def run_doctor(skip_dns: bool = False) -> list[Check]:
    checks = [check_interfaces(), check_default_route()]
    if not skip_dns:
        checks.append(check_dns())
    checks += [check_clock(), check_swap(), check_versions(load_lock()), check_hygiene(), check_selftest()]
    return checks
