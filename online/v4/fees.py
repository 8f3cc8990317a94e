"""The fee of a v4 transaction from the gas a node simulates for it (spec §B5).

The relay simulates the very body the cold key will sign (``POST /cosmos/tx/v1beta1/simulate`` with an
empty signature, which simulate does not verify), multiplies the gas used by the clients' adjustment (1.6,
the JS client's) because the signed transaction differs slightly in size and the node's estimate is not a
promise, and pays the validators' minimum price for that gas limit, rounded up: ``ceil(gas_limit × 0.025)``
base units of USDC, or ``gas_limit × 25·10⁹`` of the native denom. A fee under that minimum is code 13 at
CheckTx; a gas limit under the real use is code 11 in the block (fee and sequence spent). A simulation
result above :data:`MAX_GAS_LIMIT` is refused: no cold-signable message needs that much, so the node is
wrong or the body is not what it seems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from dydx_airgap.online.v4.node import V4Node
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.tx import AuthInfo, Fee, SignerInfo, TxBody, TxRaw
from dydx_airgap.shared.errors import InputError, RemoteError

GAS_ADJUSTMENT = Decimal("1.6")
#: A ceiling no deposit, withdrawal, transfer or authenticator change comes near (they use ~10⁵).
MAX_GAS_LIMIT = 2_000_000
#: Gas limit written into the transaction that is only simulated (simulate runs on an infinite meter).
_SIMULATION_GAS_LIMIT = MAX_GAS_LIMIT


@dataclass(frozen=True)
class FeeQuote:
    gas_used: int
    gas_limit: int
    fee: Coin

    @property
    def fee_coins(self) -> tuple[Coin, ...]:
        return (self.fee,)


def minimum_fee(network: V4Network, gas_limit: int, denom: str) -> Coin:
    """The validators' default minimum fee for ``gas_limit`` in ``denom`` (a fee denom of the network)."""
    if isinstance(gas_limit, bool) or not isinstance(gas_limit, int) or not 0 < gas_limit <= MAX_GAS_LIMIT:
        raise InputError(f"a gas limit is from 1 to {MAX_GAS_LIMIT}")
    if denom == network.usdc_denom:
        return Coin(denom, math.ceil(network.min_gas_price_usdc * gas_limit))
    if denom == network.native_denom:
        return Coin(denom, network.min_gas_price_native * gas_limit)
    raise InputError(
        f"fees on {network.chain_id} are paid in USDC ({network.usdc_denom}) or {network.native_denom}, "
        f"not {denom[:80]!r}"
    )


def gas_limit_for(gas_used: int) -> int:
    """The gas limit to sign for a simulated ``gas_used``: adjusted up, and bounded."""
    if gas_used <= 0:
        raise RemoteError("the node simulated no gas use; refusing to compute a fee from it")
    limit = math.ceil(gas_used * GAS_ADJUSTMENT)
    if limit > MAX_GAS_LIMIT:
        raise RemoteError(
            f"the node simulated {gas_used} gas, which needs a limit above {MAX_GAS_LIMIT}; refusing it"
        )
    return limit


def simulation_bytes(body: TxBody, public_key: bytes, sequence: int) -> bytes:
    """The transaction a node simulates: the real body and signer, no fee, one empty signature."""
    auth_info = AuthInfo((SignerInfo(public_key, sequence),), Fee((), _SIMULATION_GAS_LIMIT))
    return TxRaw(body.encode(), auth_info.encode(), (b"",)).encode()


def quote_fee(node: V4Node, body: TxBody, public_key: bytes, sequence: int, denom: str) -> FeeQuote:
    """Simulate ``body`` as ``public_key`` at ``sequence`` and price the adjusted gas in ``denom``."""
    minimum_fee(node.network, 1, denom)  # an unknown denom is refused before the node is asked anything
    gas_used = node.simulate(simulation_bytes(body, public_key, sequence))
    gas_limit = gas_limit_for(gas_used)
    return FeeQuote(gas_used, gas_limit, minimum_fee(node.network, gas_limit, denom))
