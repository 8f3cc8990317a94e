"""P6: escape-proof verification — the real mainnet position-1 proof, against its own primitive floor.

The verifier's cost is one Pedersen hash per proof level (66 for the mainnet vector) plus decoding, the
amount and one Keccak of the shared state. Measured in this same run: ``verify_escape`` on the vector, and
the baseline of as many bare ``pedersen_hash`` calls as the proof has levels; the target is ≤ 0.3 s.

Runnable alone: ``.venv/bin/python bench/p6_escape.py`` prints its markdown.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from report import median, ratio, s, table

from dydx_airgap.shared.dydx_v3.escape.verifier import verify_escape
from dydx_airgap.shared.stark.pedersen import pedersen_hash

REPO = Path(__file__).resolve().parent.parent
VECTOR = REPO.parent / "shared" / "vectors" / "escape-mainnet-pos1.json"
TARGET_SECONDS = 0.3


def run(repeats: int) -> tuple[str, dict[str, float]]:
    vector = json.loads(VECTOR.read_text())
    proof = [int(word, 16) for word in vector["merkle_proof"]]
    state = [int(word, 16) for word in vector["shared_state"]]
    levels = (len(proof) - 2) // 2
    pairs = [
        (proof[2 * i] >> 4, ((proof[2 * i] & 0xF) << 248 | proof[2 * i + 1] >> 8)) for i in range(levels)
    ]
    verify_escape(proof, vector["n_assets"], state)  # warm the Pedersen tables
    floor_runs, verify_runs = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for left, right in pairs:
            pedersen_hash(left, right)
        floor_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = verify_escape(proof, vector["n_assets"], state)
        verify_runs.append(time.perf_counter() - started)
        if result.amount != vector["expected_withdrawal_quantized"]:
            raise RuntimeError("the verifier did not compute the vector's amount")
    floor, verify = median(floor_runs), median(verify_runs)
    met = "met" if verify <= TARGET_SECONDS else "not met"
    text = "\n".join(
        [
            "### P6 — escape-proof verification (mainnet position 1, 66 levels)",
            "",
            f"Medians of {repeats} runs. Baseline: {levels} bare Pedersen hashes of the proof's pairs.",
            "",
            table(
                ["figure", "time", "ratio to the baseline"],
                [
                    [f"{levels} × pedersen_hash (baseline)", s(floor), "1.00×"],
                    ["verify_escape (every check, amount, fact)", s(verify), ratio(verify, floor)],
                ],
            ),
            "",
            f"Target ≤ {TARGET_SECONDS} s: {met}.",
            "",
        ]
    )
    return text, {"verify": verify, "floor": floor}


if __name__ == "__main__":
    print(run(5)[0])
