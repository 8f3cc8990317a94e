"""Every decoder under Hypothesis (the short run; `make fuzz` runs >= 100,000 inputs each with atheris).

A decoder may only raise our typed errors, and no input may take more than a second.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dydx_airgap.shared.errors import AirgapError

from .fuzz.targets import TARGETS, seeds

SEEDS = seeds()


@st.composite
def mutated(draw: st.DrawFn, base: list[bytes]) -> bytes:
    if not base or draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(base)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 2 and data:
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data[pos:pos] = draw(
                st.sampled_from([b"{", b"}", b'"', b"\\u0000", b"NaN", b"1e999", b"\xff", b"0x"])
            )
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_decoder_raises_only_typed_errors(name: str, figure) -> None:
    target = TARGETS[name]
    stats = {"n": 0, "rejected": 0, "slowest": 0.0}

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=mutated(SEEDS.get(name, [])))
    def run(data: bytes) -> None:
        start = time.perf_counter()
        try:
            target(data)
        except AirgapError:
            stats["rejected"] += 1
        stats["slowest"] = max(stats["slowest"], time.perf_counter() - start)
        stats["n"] += 1

    run()
    assert stats["slowest"] < 1.0
    figure(
        f"fuzz (hypothesis) {name}: {stats['n']} inputs, {stats['rejected']} rejected with a typed error, "
        f"0 uncaught, slowest {stats['slowest'] * 1000:.1f} ms"
    )
