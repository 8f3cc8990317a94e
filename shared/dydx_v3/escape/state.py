"""The shared-state words of a StarkPerpetual state update, decoded for people (escape-hatch.md §A5).

Layout: [0] position root, [1] position tree height, [2] order root, [3] order tree height, [4] nFunding,
nFunding × (asset id, funding index + 2^63), funding timestamp, nPrices, nPrices × (asset id, price), system
time. The verifier reads the words directly; this decoding is for the review, the audit output and the
relay's sanity checks, and refuses a state whose lengths do not add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.shared.errors import FormatError

FUNDING_BIAS = 2**63
#: 32.32 fixed point: prices and funding indices are in units of 2^-32 collateral quanta.
FXP_ONE = 2**32


@dataclass(frozen=True)
class SharedState:
    position_root: int
    position_tree_height: int
    order_root: int
    order_tree_height: int
    funding: tuple[tuple[int, int], ...]  # (asset id, funding index biased by 2^63)
    funding_timestamp: int
    prices: tuple[tuple[int, int], ...]  # (asset id, 32.32 price)
    system_time: int

    @property
    def word_count(self) -> int:
        return 8 + 2 * len(self.funding) + 2 * len(self.prices)


def decode_shared_state(words: Sequence[int]) -> SharedState:
    """Split the words into their fields; a length that does not match the counts is a FormatError."""
    if len(words) < 8:
        raise FormatError(f"a shared state has at least 8 words, this one {len(words)}")
    n_funding = words[4]
    if not 8 + 2 * n_funding <= len(words):
        raise FormatError(f"the shared state announces {n_funding} funding entries in {len(words)} words")
    prices_count_at = 5 + 2 * n_funding + 1
    n_prices = words[prices_count_at]
    expected = 8 + 2 * n_funding + 2 * n_prices
    if expected != len(words):
        raise FormatError(
            f"the shared state's counts ({n_funding} funding, {n_prices} prices) make {expected} words, "
            f"not {len(words)}"
        )
    funding_start, prices_start = 5, prices_count_at + 1
    return SharedState(
        position_root=words[0],
        position_tree_height=words[1],
        order_root=words[2],
        order_tree_height=words[3],
        funding=tuple(
            (words[i], words[i + 1]) for i in range(funding_start, funding_start + 2 * n_funding, 2)
        ),
        funding_timestamp=words[funding_start + 2 * n_funding],
        prices=tuple((words[i], words[i + 1]) for i in range(prices_start, prices_start + 2 * n_prices, 2)),
        system_time=words[-1],
    )


def asset_name(asset_id: int) -> str:
    """dYdX's synthetic asset ids are ASCII such as ``BTC-10`` right-padded with zero bytes to 15 bytes."""
    raw = asset_id.to_bytes(15, "big") if asset_id < 2**120 else b""
    text = raw.rstrip(b"\0")
    if text and all(0x21 <= byte < 0x7F for byte in text):
        return text.decode("ascii")
    return f"0x{asset_id:x}"


def fxp_text(value: int, decimals: int = 6) -> str:
    """A 32.32 fixed-point number as an exact-enough decimal (truncated toward zero) for a review."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    whole, fraction = divmod(magnitude, FXP_ONE)
    digits = fraction * 10**decimals // FXP_ONE
    return f"{sign}{whole}.{digits:0{decimals}d}"
