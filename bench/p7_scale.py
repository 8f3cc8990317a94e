"""P7: every batch command end to end, at N = 1, 100, 1,000 and 10,000 — linear, and near its floor.

What an operator runs is the command, so each figure is one whole process, timed from outside: start-up,
key loading, derivation, files, read-back checks, output. Each command runs in a small wrapper process that
reports the wall time and the peak resident memory of the largest process of the command's tree
(``RUSAGE_CHILDREN``: the command and the workers it forked). Medians of ``repeats`` runs (one run at
10,000).

Commands (test mnemonic, chain id 1):

* ``dydx-offline derive --mnemonic-file M --network 1 --accounts 0-(N-1) --out D --json``
* ``dydx-offline recover --mnemonic-file M --network 1 --accounts 0-(N-1) --match KEY`` (KEY: the last
  account's legacy personal-sign key, found only once every candidate is computed)
* ``dydx-offline derive-v4 --mnemonic-file M --v4-network mainnet --accounts 0-(N-1) --out D --json``
* ``dydx-offline evidence bundle --mnemonic-file M --network 31337 --evidence-log L --from COLD --out B`` on
  the N artefacts bench/bench_audit.py signed with the test mnemonic's account 0
* ``dydx-audit verify BUNDLE --unpinned`` on a bundle of N artefacts made by bench/bench_audit.py

Reference and floor, per account (or artefact), measured in this run:

* derive: the reference is dydx-v3-python doing the same derivation (P1: its per-account median, plus its
  import once); the floor is P1's bare floor (two coincurve signatures on precomputed digests and one STARK
  k·G with fastecdsa);
* recover: the reference is dydx-v3-python deriving *one* of the six keys per account (it has no search: in
  its favour); the floor is two coincurve signatures (EIP-712 and personal_sign) and six fastecdsa k·G;
* derive-v4: the floor is one EIP-712 signature, the BIP-39 seed's PBKDF2 (2048 rounds), the BIP-32 path and
  one public key (measured here); no reference client derives v4 accounts from an Ethereum key in Python;
* evidence bundle and audit verify: the floor is one secp256k1 public-key recovery per artefact (each
  artefact's origin signature); there is no reference client.

"Marginal" is (wall at 10,000 − wall at 1,000) / 9,000: the cost of one more account once start-up, the
vault's Argon2id and the generator table are paid. Runnable alone:
``.venv/bin/python bench/p7_scale.py [--quick] [--sizes 1,100,1000]`` prints its markdown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from report import median, ms, s, table, verdict

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEST_MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 1
SIZES = (1, 100, 1000, 10_000)
#: Issue 18's targets on this machine.
DERIVE_1000_SECONDS = 1.5
MARGINAL_VS_DYDX3 = 25.0
GROWTH_LIMIT = 10.5
PEAK_MB = 300.0
RECOVER_1000_SECONDS = 5.0
AUDIT_10000_SECONDS = 10.0
V4_FLOOR_RATIO = 1.5

# Runs a command and prints {"wall": seconds, "code": exit code, "maxrss_kb": ...} (Linux: KiB).
_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
out, err = subprocess.DEVNULL, subprocess.PIPE
code = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=out, stderr=err).returncode
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "code": code, "maxrss_kb": peak}))
"""


@dataclass(frozen=True)
class Run:
    wall: float
    peak_mb: float


@dataclass
class Series:
    """One command's runs by N."""

    name: str  # derive, recover, derive-v4, dydx-audit: the key of its figures
    command: str
    unit: str
    runs: dict[int, Run]

    def marginal(self) -> float | None:
        if 1000 in self.runs and 10_000 in self.runs:
            return (self.runs[10_000].wall - self.runs[1000].wall) / 9000
        return None

    def growth(self) -> float | None:
        if 1000 in self.runs and 10_000 in self.runs:
            return self.runs[10_000].wall / self.runs[1000].wall
        return None

    def peak(self) -> float:
        return max(run.peak_mb for run in self.runs.values())


def _measure(command: Callable[[int], list[str]], cwd: Path, repeats: int) -> Run:
    """``command(i)`` is run i's command line (each run gets a directory of its own: see run_key_commands)."""
    walls, peaks = [], []
    for run in range(repeats):
        line = command(run)
        result = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(cwd), *line],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        answer = json.loads(result.stdout)
        if answer["code"] not in (0,):
            raise RuntimeError(f"{Path(line[0]).name} {line[1]} exited {answer['code']}")
        walls.append(answer["wall"])
        peaks.append(answer["maxrss_kb"] / 1024)
    return Run(median(walls), max(peaks))


def _secret_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _last_legacy_key(count: int) -> str:
    from dydx_airgap.offline.keys.cold_key import ColdKey
    from dydx_airgap.offline.keys.hd import Bip32Deriver, seed_from_mnemonic
    from dydx_airgap.offline.keys.recover import variant_public_keys
    from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
    from dydx_airgap.shared.secret import Secret

    seed = seed_from_mnemonic(Secret(TEST_MNEMONIC), Secret(""))
    key = ColdKey(Bip32Deriver(seed).private_key(f"m/44'/60'/0'/0/{count - 1}"))
    return f"0x{dict(variant_public_keys(key, CHAIN_ID))[StarkKeyVariant.LEGACY_PERSONAL_SIGN]:064x}"


def run_key_commands(work: Path, sizes: tuple[int, ...], repeats: int) -> list[Series]:
    """derive, recover and derive-v4 at each N. Every run writes into a new directory, and all of them are
    removed only after the series, outside the timings: deleting thousands of files right before a run
    makes that run's file creation several times slower on this machine's ext4 (mounted with discard),
    which measures the previous run's cleanup, not the command an operator runs into a fresh --out."""
    mnemonic = _secret_file(work / "mn", TEST_MNEMONIC)
    passphrase = _secret_file(work / "vp", "bench vault passphrase")
    outputs = work / "outputs"
    outputs.mkdir()
    made = iter(range(10**6))

    def vault(run: int) -> list[str]:
        out = outputs / f"out-{next(made)}"
        return ["--out", str(out), "--vault-password-file", str(passphrase), "--json"]

    offline = str(BIN / "dydx-offline")
    derive = Series("derive", "`dydx-offline derive --accounts 0-(N-1) --json`", "account", {})
    recover = Series("recover", "`dydx-offline recover --accounts 0-(N-1) --match KEY`", "account", {})
    v4 = Series("derive-v4", "`dydx-offline derive-v4 --accounts 0-(N-1) --json`", "account", {})

    def writing(*base: str) -> Callable[[int], list[str]]:
        return lambda run: [*base, *vault(run)]

    def reading(*base: str) -> Callable[[int], list[str]]:
        return lambda run: list(base)

    for n in sizes:
        times = repeats if n < 10_000 else 1
        print(f"P7: derive, recover and derive-v4 of {n} account(s) ...", file=sys.stderr)
        source = ["--mnemonic-file", str(mnemonic), "--accounts", f"0-{n - 1}"]
        network = ["--network", "1"]
        derive.runs[n] = _measure(writing(offline, "derive", *source, *network), work, times)
        match = ["--match", _last_legacy_key(n)]
        recover.runs[n] = _measure(reading(offline, "recover", *source, *network, *match), work, times)
        v4_network = ["--v4-network", "mainnet"]
        v4.runs[n] = _measure(writing(offline, "derive-v4", *source, *v4_network), work, times)
    shutil.rmtree(outputs)
    return [derive, recover, v4]


def _bundle_command(mnemonic: Path, root: Path) -> Callable[[int], list[str]]:
    """`evidence bundle` of what bench_audit wrote under ``root``, into a new directory each run."""
    import bench_audit

    source = ["--mnemonic-file", str(mnemonic), "--network", str(bench_audit.NETWORK.chain_id)]
    log = ["--evidence-log", str(root / "evidence.jsonl"), "--from", str(root / "cold")]
    command = [str(BIN / "dydx-offline"), "evidence", "bundle", *source, *log]
    return lambda run: [*command, "--out", str(root / f"cli-{run}"), "--json"]


def run_audit(work: Path, sizes: tuple[int, ...], repeats: int) -> list[Series]:
    """`dydx-offline evidence bundle` of N artefacts (the test mnemonic's account 0 signed them; each run
    into a new directory), then `dydx-audit verify` of the bundle."""
    import bench_audit

    from dydx_airgap.offline.keys.cold_key import ColdKey
    from dydx_airgap.offline.keys.hd import Bip32Deriver, seed_from_mnemonic
    from dydx_airgap.shared.secret import Secret

    mnemonic = _secret_file(work / "mn-audit", TEST_MNEMONIC)
    seed = seed_from_mnemonic(Secret(TEST_MNEMONIC), Secret(""))
    key = ColdKey(Bip32Deriver(seed).private_key("m/44'/60'/0'/0/0"))
    bundling = Series("evidence-bundle", "`dydx-offline evidence bundle --from COLD --out B`", "artefact", {})
    series = Series("dydx-audit", "`dydx-audit verify BUNDLE --unpinned`", "artefact", {})
    for n in sizes:
        # The smallest bundle the generator makes holds a public key, an onboarding request and the log.
        artefacts = max(n, 4)
        times = repeats if n < 10_000 else 1
        print(f"P7: generating an evidence bundle of {artefacts} artefacts ...", file=sys.stderr)
        root = work / f"audit-{artefacts}"
        root.mkdir()
        bundle = bench_audit.generate_bundle(root, artefacts, key)
        bundling.runs[artefacts] = _measure(_bundle_command(mnemonic, root), work, times)
        command = (str(BIN / "dydx-audit"), "verify", str(bundle), "--unpinned")
        series.runs[artefacts] = _measure(lambda run, line=command: list(line), work, times)
        shutil.rmtree(root)
    return [bundling, series]


def _stark_floors(samples: int = 300) -> dict[str, float]:
    """Per-account primitive floors, timed here: coincurve signatures, fastecdsa k·G, secp256k1 recovery,
    and the v4 chain (signature, PBKDF2, BIP-32, public key)."""
    import coincurve

    from dydx_airgap.offline.keys.hd import Bip32Deriver, mnemonic_from_entropy
    from dydx_airgap.shared.dydx_v4.onboarding import HD_PATH, entropy_from_signature
    from dydx_airgap.shared.dydx_v4.onboarding import digest as v4_digest
    from dydx_airgap.shared.secret import Secret
    from dydx_airgap.shared.stark.constants import EC_GEN, EC_ORDER
    from dydx_airgap.shared.stark.curve import to_fastecdsa

    generator = to_fastecdsa(EC_GEN)
    keys = [hashlib.sha256(b"p7 floor %d" % i).digest() for i in range(samples)]
    starks = [int.from_bytes(k, "big") % (EC_ORDER - 1) + 1 for k in keys]
    digest_a, digest_b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    signatures = [coincurve.PrivateKey(k).sign_recoverable(digest_a, hasher=None) for k in keys]
    v4 = v4_digest(1)

    def two_signatures(i: int) -> None:
        signer = coincurve.PrivateKey(keys[i])
        signer.sign_recoverable(digest_a, hasher=None)
        signer.sign_recoverable(digest_b, hasher=None)

    def k_g(i: int) -> None:
        point = starks[i] * generator
        _ = point.x

    def recovery(i: int) -> None:
        coincurve.PublicKey.from_signature_and_message(signatures[i], digest_a, hasher=None)

    def v4_chain(i: int) -> None:
        signature = coincurve.PrivateKey(keys[i]).sign_recoverable(v4, hasher=None)
        entropy = entropy_from_signature(signature[:64] + bytes([signature[64] + 27]))
        words = mnemonic_from_entropy(Secret(entropy)).reveal()
        seed = hashlib.pbkdf2_hmac("sha512", words.encode("utf-8"), b"mnemonic", 2048)
        private = Bip32Deriver(Secret(seed)).private_key(HD_PATH).reveal()
        coincurve.PrivateKey(private).public_key.format(compressed=True)

    out = {}
    for name, work in (
        ("two_signatures", two_signatures),
        ("k_g", k_g),
        ("recovery", recovery),
        ("v4", v4_chain),
    ):
        for i in range(min(20, samples)):
            work(i)
        times = []
        for i in range(samples):
            started = time.perf_counter()
            work(i)
            times.append(time.perf_counter() - started)
        out[name] = median(times)
    return out


def _v4_in_process(samples: int = 200) -> float:
    """Our v4 derivation of one account from its Ethereum key (derive_v4_account), per account."""
    from dydx_airgap.offline.keys.cold_key import ColdKey, derive_v4_account
    from dydx_airgap.shared.secret import Secret

    keys = [ColdKey(Secret(hashlib.sha256(b"p7 floor %d" % i).digest())) for i in range(samples)]
    for key in keys[:10]:
        derive_v4_account(key, 1)
    times = []
    for key in keys:
        started = time.perf_counter()
        derive_v4_account(key, 1)
        times.append(time.perf_counter() - started)
    return median(times)


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"


#: What each command checks before it reports success, and what each check proves: the P7 times include
#: every one of them (issue 18: cheaper, not weaker).
READ_BACK = """#### What the read-back checks prove (all of them run inside the times above)

| command | check, before success is reported | what it proves |
|---|---|---|
| `derive`, `derive-v4` | each payload is encoded once and decoded by the same validator a later reader uses (seal, fields, the cold key's origin signature), then compared with the account it was built for | the bytes about to be written are a valid payload that publishes exactly this derivation |
|  | every public file is fsynced, renamed into place, the directory fsynced once, then each file read back from disk and compared byte for byte with the validated bytes | the file on disk *is* that validated payload; decoding it a second time would prove nothing more |
|  | the vault is read back from disk and decrypted with the passphrase (Argon2id, then AES-256-GCM over the authenticated header and every entry), and must equal the contents meant | a later command can open it; every STARK private key (v3) or onboarding signature and mnemonic (v4) is the one in memory from which the published public key was derived, with its API credentials, and entries kept from an earlier run are unchanged |
|  | not repeated: deriving each public key again from the vault's private key (v3: a second STARK k·G; v4: PBKDF2's 2,048 rounds again) | the same equality as the check above, at the cost of the most expensive step of derivation |
| `recover` | writes no file; every candidate is computed before the match is reported, and the match is re-derived on its own | the reported account, variant and path give exactly the key asked for |
| `evidence bundle` | every check `dydx-audit verify` makes of a cold bundle, on the files in memory, before anything is written; then the bundle is read back as the auditor's reader reads it (layout, links, sizes) and compared byte for byte | the bundle on disk is the one that passed; the verdict depends on nothing but those bytes, so verifying the copy again would only repeat it |
| `dydx-audit verify` | writes no file; every artefact's hash, every signature, the manifest-to-receipt chain, the log and the secret scan run on every artefact at every N | the verdict covers the whole bundle, not a sample |
"""  # noqa: E501 - a markdown table, one row per line


def run(
    sizes: tuple[int, ...], repeats: int, p1: dict[str, float], notes: list[str]
) -> tuple[str, dict[str, float]]:
    """The P7 section's markdown and the figures the summary needs. ``p1``: P1's figures (dydx3)."""
    floors = _stark_floors()
    v4_ours = _v4_in_process()
    with tempfile.TemporaryDirectory(prefix="dydx-bench-p7-") as tmp:
        work = Path(tmp)
        series = run_key_commands(work, sizes, repeats)
        try:
            series.extend(run_audit(work, sizes, repeats))
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            notes.append(f"P7 audit series failed: {exc}")
    dydx3 = p1.get("dydx3_total")
    dydx3_import = p1.get("dydx3_import", 0.0)
    floor_of = {
        "derive": floors["two_signatures"] + floors["k_g"],
        "recover": floors["two_signatures"] + 6 * floors["k_g"],
        "derive-v4": floors["v4"],
        "evidence-bundle": floors["recovery"],
        "dydx-audit": floors["recovery"],
    }
    rows = []
    figures: dict[str, float] = {}
    for one in series:
        name = one.name
        floor = floor_of[name]
        has_reference = dydx3 is not None and name in ("derive", "recover")
        for n, measured in sorted(one.runs.items()):
            reference = (dydx3_import + n * dydx3) / measured.wall if has_reference and dydx3 else None
            rows.append(
                [
                    one.command if n == min(one.runs) else "",
                    f"{n:,}",
                    s(measured.wall),
                    ms(measured.wall / n),
                    _ratio(reference),
                    _ratio(measured.wall / n / floor),
                    f"{measured.peak_mb:.0f} MB",
                ]
            )
        marginal, growth = one.marginal(), one.growth()
        if marginal is not None and growth is not None:
            vs_reference = dydx3 / marginal if has_reference and dydx3 else None
            rows.append(
                [
                    f"  marginal per {one.unit}, 1,000 → 10,000",
                    "",
                    f"growth {growth:.2f}×",
                    ms(marginal),
                    _ratio(vs_reference),
                    _ratio(marginal / floor),
                    "",
                ]
            )
            figures[f"{name} marginal"] = marginal
            figures[f"{name} growth"] = growth
            if vs_reference is not None:
                figures[f"{name} marginal vs dydx3"] = vs_reference
        figures[f"{name} peak"] = one.peak()
        for n, measured in one.runs.items():
            figures[f"{name} {n}"] = measured.wall
    figures["v4 ours"] = v4_ours
    figures["v4 floor"] = floors["v4"]
    if dydx3 is None:
        notes.append("P7: dydx-v3-python was not measured in P1, so P7 has no reference ratios")
    text = "\n".join(
        [
            "### P7 — batch commands end to end, N = " + ", ".join(f"{n:,}" for n in sizes),
            "",
            f"Whole processes, medians of {repeats} run(s) (one at 10,000); peak memory is the largest "
            "process of the command's tree (the command or one of its workers). *vs reference*: the "
            "reference's time for the same N divided by ours (dydx-v3-python: its import once plus its "
            "per-account median from P1, times N); *vs floor*: our time per account divided by the "
            "primitive floor per account (module docstring of bench/p7_scale.py). Floors per account, "
            f"this run: derive {ms(floor_of['derive'])}, recover {ms(floor_of['recover'])}, derive-v4 "
            f"{ms(floor_of['derive-v4'])}, evidence bundle and audit {ms(floor_of['dydx-audit'])} per "
            "artefact.",
            "",
            table(
                ["command", "N", "wall", "per account", "vs reference", "vs floor", "peak memory"],
                rows,
            ),
            "",
            "v4 derivation in process, per account from the Ethereum key (`derive_v4_account`: signature, "
            f"entropy, mnemonic, PBKDF2, BIP-32, public key, addresses): {ms(v4_ours)}, "
            f"{v4_ours / floors['v4']:.2f}× its floor of {ms(floors['v4'])} (one EIP-712 signature, the "
            "seed's PBKDF2, the BIP-32 path, one public key); beside it, v3's per-account derivation is "
            f"in P1 ({ms(p1['ours_derive']) if 'ours_derive' in p1 else '—'}).",
            "",
            READ_BACK,
        ]
    )
    return text, figures


def summary_rows(figures: dict[str, float]) -> list[list[str]]:
    """The P7 lines of the summary table: each of issue 18's targets, measured or not."""

    def row(label: str, key: str, limit: float, fmt: Callable[[float], str], below: bool = True) -> list[str]:
        if key not in figures:
            return [label, "not measured", ("≤ " if below else "≥ ") + fmt(limit), "—"]
        value = figures[key]
        met = value <= limit if below else value >= limit
        return [label, fmt(value), ("≤ " if below else "≥ ") + fmt(limit), verdict(met)]

    times = lambda value: f"{value:.2f}×"  # noqa: E731 - a formatter, named for the table
    seconds = lambda value: f"{value:.2f} s"  # noqa: E731
    megabytes = lambda value: f"{value:.0f} MB"  # noqa: E731
    rows = [
        row("P7 `derive --accounts 0-999` end to end", "derive 1000", DERIVE_1000_SECONDS, seconds),
        row(
            "P7 derive marginal per account, dydx-v3-python / ours",
            "derive marginal vs dydx3",
            MARGINAL_VS_DYDX3,
            lambda v: f"{v:.1f}×",
            below=False,
        ),
    ]
    for name in ("derive", "recover", "derive-v4", "evidence-bundle", "dydx-audit"):
        rows.append(row(f"P7 {name}: wall at 10,000 / at 1,000", f"{name} growth", GROWTH_LIMIT, times))
        rows.append(row(f"P7 {name}: peak memory", f"{name} peak", PEAK_MB, megabytes))
    rows.append(
        row("P7 `recover`, 1,000 accounts × 6 variants", "recover 1000", RECOVER_1000_SECONDS, seconds)
    )
    rows.append(
        row("P7 `dydx-audit verify`, 10,000 artefacts", "dydx-audit 10000", AUDIT_10000_SECONDS, seconds)
    )
    if "v4 ours" in figures:
        ratio = figures["v4 ours"] / figures["v4 floor"]
        rows.append(
            ["P7 v4 derivation per account / its floor", f"{ratio:.2f}×", f"≤ {V4_FLOOR_RATIO}×",
             verdict(ratio <= V4_FLOOR_RATIO)]
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per size")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated N")
    args = parser.parse_args()
    sizes = tuple(int(part) for part in args.sizes.split(","))
    notes: list[str] = []
    text, figures = run(sizes, 1 if args.quick else 3, {}, notes)
    print(text)
    print(table(["figure", "measured", "target", "verdict"], summary_rows(figures)))
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
