"""The dYdX v4 environments this toolkit knows (spec §A1, §B2): one record per chain id.

The EIP-712 chain id belongs to the *onboarding* signature (an Ethereum-side value); the Cosmos chain id
is what a SignDoc binds. Mixing them up derives another account or signs for another chain, so both live
in one record and are looked up together.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dydx_airgap.shared.errors import InputError

USDC_IBC_DENOM = "ibc/8E27BA2D5493AF5636760E354E46004562C46AB7EC0CC4C1CA14E9E20E2545B5"


@dataclass(frozen=True)
class V4Network:
    name: str
    chain_id: str
    eip712_chain_id: int
    bech32_hrp: str
    noble_hrp: str
    native_denom: str
    usdc_denom: str
    #: The validators' default minimum gas prices (CheckTx), per unit of gas, in each fee denom.
    min_gas_price_usdc: Decimal
    min_gas_price_native: int

    @property
    def fee_denoms(self) -> tuple[str, str]:
        return (self.usdc_denom, self.native_denom)


MAINNET = V4Network(
    name="mainnet",
    chain_id="dydx-mainnet-1",
    eip712_chain_id=1,
    bech32_hrp="dydx",
    noble_hrp="noble",
    native_denom="adydx",
    usdc_denom=USDC_IBC_DENOM,
    min_gas_price_usdc=Decimal("0.025"),
    min_gas_price_native=25_000_000_000,
)

TESTNET = V4Network(
    name="testnet",
    chain_id="dydx-testnet-4",
    eip712_chain_id=11155111,
    bech32_hrp="dydx",
    noble_hrp="noble",
    native_denom="adv4tnt",
    usdc_denom=USDC_IBC_DENOM,
    min_gas_price_usdc=Decimal("0.025"),
    min_gas_price_native=25_000_000_000,
)

NETWORKS: dict[str, V4Network] = {n.chain_id: n for n in (MAINNET, TESTNET)}


def network_by_chain_id(chain_id: str) -> V4Network:
    try:
        return NETWORKS[chain_id]
    except KeyError:
        raise InputError(f"unknown dYdX v4 chain id {chain_id!r} (known: {', '.join(NETWORKS)})") from None


def network_by_name(name: str) -> V4Network:
    for network in NETWORKS.values():
        if network.name == name:
            return network
    raise InputError(f"unknown dYdX v4 network {name!r} (known: mainnet, testnet)")
