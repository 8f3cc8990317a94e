"""P5: `recover` at scale — every key variant of 1,000 accounts on one network.

Three figures, measured in this same run:

* the library search (offline/keys/recover.py ``search``) over accounts × 6 variants, one worker and one per
  CPU, against the baseline of this run's single-variant derivation (``derive_accounts_parallel``) of the
  same accounts on the same number of workers: six STARK keys per account should cost about six times one;
* the whole command, `dydx-offline recover --accounts 0-999 --network 1 --match KEY` (start-up, mnemonic,
  BIP-32 keys, search, report), against the target of 5 s on this machine.

Runnable alone: ``.venv/bin/python bench/p5_recover.py [--accounts N]`` prints its markdown.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from report import median, ratio, s, table

from dydx_airgap.offline.keys.batch import available_cpus, derive_accounts_parallel
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.recover import parse_target, search, variant_public_keys
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.secret import Secret

REPO = Path(__file__).resolve().parent.parent
TEST_MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 1
CLI_TARGET_SECONDS = 5.0


def _keys(count: int) -> list[AccountKey]:
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    seed = seed_from_mnemonic(TEST_MNEMONIC, "")
    out = []
    for index in range(count):
        path = f"m/44'/60'/0'/0/{index}"
        out.append(AccountKey(index, path, ColdKey(Secret(bytes(key_from_seed(seed, path))))))
    return out


def _cli_wall(count: int, target: str) -> float | str:
    with tempfile.TemporaryDirectory(prefix="dydx-bench-") as tmp:
        directory = Path(tmp)
        (directory / "mn").write_text(TEST_MNEMONIC + "\n")
        (directory / "mn").chmod(0o600)
        command = [
            str(REPO / ".venv" / "bin" / "dydx-offline"),
            "recover",
            "--mnemonic-file",
            "mn",
            "--network",
            str(CHAIN_ID),
            "--accounts",
            f"0-{count - 1}",
            "--match",
            target,
        ]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
        if result.returncode != 0 or "MATCH exact" not in result.stdout:
            return f"failed: {(result.stderr.strip().splitlines() or ['no output'])[-1]}"
        return wall


def run(count: int, repeats: int) -> tuple[str, dict[str, float]]:
    keys = _keys(count)
    network = get_network(CHAIN_ID)
    last = keys[-1]
    # The last account's legacy key: found only after every candidate is computed.
    wanted = dict(variant_public_keys(last.key, CHAIN_ID))[StarkKeyVariant.LEGACY_PERSONAL_SIGN]
    target = parse_target(f"0x{wanted:064x}")
    rows = []
    figures: dict[str, float] = {}
    for workers in sorted({1, available_cpus()}):
        base_runs, search_runs = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            derive_accounts_parallel([k.key for k in keys], CHAIN_ID, workers=workers)
            base_runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = search(keys, [network], [target], workers=workers)
            search_runs.append(time.perf_counter() - started)
            if [m.candidate.account for m in result.matches] != [last.index]:
                raise RuntimeError("recover's search did not find the last account's legacy key")
        base, found = median(base_runs), median(search_runs)
        figures[f"search_{workers}"] = found
        rows.append(
            [
                f"{workers} worker(s)",
                s(base),
                s(found),
                ratio(found, base),
                f"{found / (count * 6) * 1000:.3f} ms",
            ]
        )
    cli = _cli_wall(count, f"0x{wanted:064x}")
    cli_text = cli if isinstance(cli, str) else s(cli)
    if not isinstance(cli, str):
        figures["cli"] = cli
    met = "met" if not isinstance(cli, str) and cli <= CLI_TARGET_SECONDS else "not met"
    text = "\n".join(
        [
            f"### P5 — recover at scale, accounts 0..{count - 1} × 6 variants, one network (chain id 1)",
            "",
            f"Medians of {repeats} run(s). Baseline: this run's single-variant `derive_accounts_parallel` "
            "of the same accounts (two signatures, one STARK k·G and API credentials per account).",
            "",
            table(
                ["workers", "derive, 1 variant", "recover search, 6 variants", "search / derive", "per key"],
                rows,
            ),
            "",
            table(
                ["whole command", "wall", "target", "verdict"],
                [
                    [
                        f"`dydx-offline recover --accounts 0-{count - 1} --network 1 --match KEY`",
                        cli_text,
                        f"≤ {CLI_TARGET_SECONDS:.0f} s",
                        met,
                    ]
                ],
            ),
            "",
        ]
    )
    return text, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    text, _ = run(args.accounts, 1 if args.quick else 3)
    print(text)


if __name__ == "__main__":
    main()
