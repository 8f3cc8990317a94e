"""`make fuzz`: coverage-guided fuzzing of one decoder with atheris.

    python -m tests.fuzz.run_atheris TARGET RUNS

Exits non-zero on the first input that raises anything but our typed errors or takes over a second, after
printing the input (hex) so it can be replayed.
"""

from __future__ import annotations

import sys
import time

import atheris

with atheris.instrument_imports():
    from dydx_airgap.shared.errors import AirgapError
    from tests.fuzz.targets import TARGETS, seeds


def main() -> None:
    name, runs = sys.argv[1], int(sys.argv[2])
    target = TARGETS[name]
    state = {"n": 0, "slowest": 0.0}

    def one(data: bytes) -> None:
        start = time.perf_counter()
        try:
            target(data)
        except AirgapError:
            pass
        except Exception:
            print(f"\nfuzz {name}: uncaught on input {data.hex()}", file=sys.stderr)
            raise
        elapsed = time.perf_counter() - start
        state["slowest"] = max(state["slowest"], elapsed)
        if elapsed > 1.0:
            raise RuntimeError(f"fuzz {name}: input took {elapsed:.2f} s: {data.hex()}")
        state["n"] += 1
        if state["n"] == runs:
            print(
                f"fuzz {name}: {state['n']} inputs, 0 uncaught, slowest {state['slowest'] * 1000:.1f} ms",
                flush=True,
            )

    import os
    import tempfile

    corpus = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
    for i, seed in enumerate(seeds().get(name, [])):
        with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
            f.write(seed)
    atheris.Setup([sys.argv[0], f"-runs={runs}", "-max_len=8192", "-rss_limit_mb=2048", corpus], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
