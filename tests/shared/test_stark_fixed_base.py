"""The generator table gives exactly fastecdsa's k·G, for random keys and for every edge of its windows."""

from __future__ import annotations

import hashlib

import pytest

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.stark import EC_GEN, EC_ORDER, private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.stark.curve import multiply
from dydx_airgap.shared.stark.fixed_base import generator_table


def test_table_multiplication_equals_fastecdsa_for_random_keys() -> None:
    table = generator_table()
    for i in range(500):
        # Spread over the whole range, reproducibly (the random module is banned near key code).
        k = int.from_bytes(hashlib.sha256(b"fixed-base %d" % i).digest(), "big") % (EC_ORDER - 1) + 1
        assert table.multiply(k) == private_key_to_ec_point_on_stark_curve(k)


@pytest.mark.parametrize(
    "k",
    [1, 2, 3, 255, 256, 257, 2**8 * 255, 2**248, 2**251, EC_ORDER - 1, EC_ORDER - 2, EC_ORDER // 2,
     int("ff" * 31, 16), sum(1 << (8 * i) for i in range(32)) % EC_ORDER],
)  # fmt: skip
def test_table_multiplication_is_exact_at_window_edges(k: int) -> None:
    assert generator_table().multiply(k) == multiply(k, EC_GEN)


@pytest.mark.parametrize("bad", [0, -1, EC_ORDER, EC_ORDER + 5])
def test_table_refuses_scalars_outside_the_key_range(bad: int) -> None:
    with pytest.raises(InputError):
        generator_table().multiply(bad)
