"""`make bench`: how fast the toolkit is, against dYdX's own client and against the primitive floor.

    .venv/bin/python bench/run.py [--accounts 1000] [--dydx3-accounts N] [--quick] [--skip-qr]

Sections: P1 derivation (ours, dydx-v3-python 2.1.0 in its own venv, the floor, batches on every core),
P2 start-up and a keystore derive with its KDF shares, P3 the QR transport (bench/bench_qr.py), P4 the audit
tool, P5 `recover` over every key variant of 1,000 accounts, P6 escape-proof verification, P7 every batch
command end to end at N = 1, 100, 1,000 and 10,000 (bench/p7_scale.py). Every figure is set against a baseline
measured in the same run, and reported as a ratio; nothing is asserted (targets are marked met or not met).
Writes bench/RESULTS.md and prints it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import p1_derivation
import p2_startup
import p5_recover
import p6_escape
import p7_scale
import reference_venv
from report import load_average, machine_rows, ms, table, verdict

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
QR_BENCH = BENCH / "bench_qr.py"
AUDIT_BENCH = BENCH / "bench_audit.py"
DYDX3_TARGET = 20.0
FLOOR_TARGET = 1.5


def _under_section(line: str) -> str:
    """A heading of a quoted script, pushed below our section headings (###), at most to level 6."""
    level = len(line) - len(line.lstrip("#"))
    if level == 0 or not line[level:].startswith(" "):
        return line
    return "#" * min(6, max(4, level + 2)) + line[level:]


def section_script(script: Path, heading: str, quick: bool, notes: list[str]) -> str:
    """Run a benchmark script another engineer owns (it prints markdown) and quote its output."""
    name = f"bench/{script.name}"
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    except subprocess.TimeoutExpired:
        notes.append(f"{name} ran for more than 10 minutes and was stopped")
        return f"{heading}\n\n`{name}` did not finish within 10 minutes.\n"
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        notes.append(f"{name} failed: {tail}")
        return f"{heading}\n\n`{name}` failed: `{tail}`\n"
    flags = " --quick" if quick else ""
    body = "\n".join(_under_section(line) for line in result.stdout.strip().splitlines())
    return f"{heading}\n\nOutput of `{name}{flags}`:\n\n{body}\n"


def p3_qr(quick: bool, notes: list[str]) -> str:
    """Hook for the QR transport benchmark (bench/bench_qr.py, owned by the QR engineer)."""
    heading = "### P3 — QR transport"
    if not QR_BENCH.exists():
        return f"{heading}\n\nNot yet available: `bench/bench_qr.py` does not exist (hook: `p3_qr`).\n"
    return section_script(QR_BENCH, heading, quick, notes)


def p4_audit(quick: bool, notes: list[str]) -> str:
    """Hook for `dydx-audit verify` on a generated bundle of 1,000 artefacts.

    The bundle format belongs to the audit tool, so its owner writes ``bench/bench_audit.py`` (same contract
    as bench_qr.py: ``--quick`` flag, markdown on stdout, no assertions); this runs it when it exists.
    """
    heading = "### P4 — audit"
    if AUDIT_BENCH.exists():
        return section_script(AUDIT_BENCH, heading, quick, notes)
    probe = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dydx-audit"), "verify", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    state = (
        "`dydx-audit verify` exists, but `bench/bench_audit.py`"
        if probe.returncode == 0
        else "`dydx-audit verify` does not exist yet, nor `bench/bench_audit.py`"
    )
    return (
        f"{heading}\n\nNot yet available: {state} (generate a bundle of 1,000 artefacts, time "
        "`dydx-audit verify` on it, print a markdown table) is not written. "
        "Hook: `p4_audit` in bench/run.py.\n"
    )


def summary(
    p1: dict[str, float],
    p2: dict[str, float],
    p5: dict[str, float],
    p6: dict[str, float],
    p7: dict[str, float],
) -> str:
    rows = []
    if "dydx3_total" in p1:
        speedup = p1["dydx3_total"] / p1["ours_total"]
        rows.append(
            [
                "P1 dydx-v3-python / ours, per account from the mnemonic",
                f"{speedup:.1f}×",
                f"≥ {DYDX3_TARGET:.0f}×",
                verdict(speedup >= DYDX3_TARGET),
            ]
        )
        conservative = p1["dydx3_conservative"] / p1["ours_total"]
        rows.append(
            [
                "  the same, without dydx3's second onboarding signature",
                f"{conservative:.1f}×",
                f"≥ {DYDX3_TARGET:.0f}×",
                verdict(conservative >= DYDX3_TARGET),
            ]
        )
        rows.append(
            [
                "P1 accounts whose outputs disagree with dydx3 (beyond the leading-zero rule)",
                f"{p1['mismatches']:.0f}",
                "0",
                verdict(p1["mismatches"] == 0),
            ]
        )
    else:
        rows.append(["P1 dydx-v3-python / ours", "not measured", f"≥ {DYDX3_TARGET:.0f}×", "—"])
    floor = p1["ours_derive"] / p1["floor"]
    rows.append(
        [
            "P1 ours / floor (eth-account + coincurve + fastecdsa)",
            f"{floor:.2f}×",
            f"≤ {FLOOR_TARGET}×",
            verdict(floor <= FLOOR_TARGET),
        ]
    )
    bare = p1["ours_derive"] / p1["bare_floor"]
    rows.append(["P1 ours / bare floor (coincurve on digests + fastecdsa)", f"{bare:.2f}×", "—", "—"])
    rows.append(["P1 batch speed-up on every core", f"{p1['parallel_speedup']:.2f}×", "—", "—"])
    for tool in p2_startup.TOOLS:
        value = p2[f"start-up {tool}"]
        rows.append(
            [
                f"P2 `{tool} --help`",
                ms(value),
                f"≤ {ms(p2_startup.START_UP_TARGET)}",
                verdict(value <= p2_startup.START_UP_TARGET),
            ]
        )
    if "cli" in p5:
        rows.append(
            [
                "P5 `recover`, 1,000 accounts × 6 variants, one network (whole command)",
                f"{p5['cli']:.2f} s",
                f"≤ {p5_recover.CLI_TARGET_SECONDS:.0f} s",
                verdict(p5["cli"] <= p5_recover.CLI_TARGET_SECONDS),
            ]
        )
    else:
        rows.append(["P5 `recover` at scale", "failed (see P5)", "≤ 5 s", "—"])
    rows.append(
        [
            "P6 escape-proof verification, mainnet vector (verify_escape / 66 Pedersen hashes)",
            f"{p6['verify'] * 1000:.0f} ms ({p6['verify'] / p6['floor']:.2f}×)",
            f"≤ {p6_escape.TARGET_SECONDS * 1000:.0f} ms",
            verdict(p6["verify"] <= p6_escape.TARGET_SECONDS),
        ]
    )
    rows += p7_scale.summary_rows(p7)
    return table(["figure", "measured", "target", "verdict"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000, help="accounts derived by us (default 1000)")
    parser.add_argument(
        "--dydx3-accounts",
        type=int,
        default=None,
        help="accounts derived by dydx-v3-python (default: all; it takes ~45 ms each); 0 skips it",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions everywhere (a smoke run)")
    parser.add_argument("--skip-qr", action="store_true", help="leave out bench/bench_qr.py")
    parser.add_argument(
        "--p7-sizes",
        default=",".join(map(str, p7_scale.SIZES)),
        help="N for P7's end-to-end runs, comma-separated (default 1,100,1000,10000)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    if args.accounts < 20:
        parser.error("--accounts must be at least 20")
    dydx3_accounts = args.accounts if args.dydx3_accounts is None else args.dydx3_accounts

    started = time.perf_counter()
    load_before = load_average()
    notes: list[str] = []
    print("P1: finding or building the dydx-v3-python venv ...", file=sys.stderr)
    dydx3 = reference_venv.dydx3_python(notes) if dydx3_accounts > 0 else None
    if dydx3_accounts <= 0:
        notes.append("dydx-v3-python skipped (--dydx3-accounts 0)")
    print(f"P1: deriving {args.accounts} accounts (dydx3: {dydx3_accounts}) ...", file=sys.stderr)
    p1_text, p1 = p1_derivation.run(args.accounts, dydx3_accounts, 1 if args.quick else 3, dydx3, notes)
    print("P2: start-up and keystore derive ...", file=sys.stderr)
    p2_text, p2 = p2_startup.run(start_up_runs=10 if args.quick else 15, derive_runs=3)
    p3_text = "### P3 — QR transport\n\nSkipped (--skip-qr).\n" if args.skip_qr else None
    if p3_text is None:
        print("P3: bench/bench_qr.py ...", file=sys.stderr)
        p3_text = p3_qr(args.quick, notes)
    p4_text = p4_audit(args.quick, notes)
    print("P5: recover at scale ...", file=sys.stderr)
    p5_text, p5 = p5_recover.run(args.accounts, 1 if args.quick else 3)
    print("P6: escape-proof verification ...", file=sys.stderr)
    p6_text, p6 = p6_escape.run(3 if args.quick else 7)
    print("P7: batch commands end to end ...", file=sys.stderr)
    sizes = tuple(int(part) for part in args.p7_sizes.split(","))
    p7_text, p7 = p7_scale.run(sizes, 1 if args.quick else 3, p1, notes)
    elapsed = time.perf_counter() - started

    machine = [
        *machine_rows(),
        ("load average before / after (1, 5, 15 min)", f"{load_before} — {load_average()}"),
        ("bench wall time", f"{elapsed / 60:.1f} min" + (" (--quick)" if args.quick else "")),
    ]
    document = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every ratio compares two figures measured in this same run. "
        "Timings on a shared or busy machine move: read the ratios, and the load average below.",
        "",
        table(["machine", ""], machine),
        "",
        "## Summary",
        "",
        summary(p1, p2, p5, p6, p7),
        "",
        p1_text,
        p2_text,
        p3_text,
        p4_text,
        p5_text,
        p6_text,
        p7_text,
    ]
    if notes:
        document += ["### Notes", "", *[f"- {note}" for note in notes], ""]
    text = "\n".join(document).rstrip() + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
