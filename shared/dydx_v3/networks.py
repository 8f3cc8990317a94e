"""The dYdX v3 networks: chain ids, API hosts and the L1 contracts (spec dydx-v3.md §2 and §7.1).

The chain id doubles as the EIP-712 ``chainId`` and as dYdX's ``network_id``. Goerli and Ropsten are kept
although dYdX retired them: accounts created there still derive their keys from those chain ids. Chain id
31337 is our local rehearsal network (local API + local chain), never a dYdX one.
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.shared.errors import InputError

USDC_DECIMALS = 6
#: Chain id of the local rehearsal chain (the usual id of local development chains).
LOCAL_REHEARSAL_CHAIN_ID = 31337


@dataclass(frozen=True)
class Network:
    chain_id: int
    name: str
    api_host: str
    stark_perpetual: str
    usdc: str
    collateral_asset_id: int
    fact_registry: str | None
    proxy_deposit: str | None
    testnet: bool
    rehearsal: bool = False
    #: User-admin (operator) addresses of this network's StarkPerpetual known from a source we trust; a
    #: review names a registration signer as dYdX's only when it is one of these. None are on record yet.
    known_user_admins: frozenset[str] = frozenset()
    #: The PerpetualEscapeVerifier this network's StarkPerpetual checks escape facts against (escape-hatch.md
    #: §A1); None where it is not on record. The escape hatch refuses such a network.
    escape_verifier: str | None = None

    @property
    def label(self) -> str:
        """What a review screen shows: name and chain id together, never one without the other."""
        suffix = " — LOCAL REHEARSAL, not a dYdX network" if self.rehearsal else ""
        return f"{self.name} (chain id {self.chain_id}){suffix}"


NETWORKS: dict[int, Network] = {
    n.chain_id: n
    for n in (
        Network(
            chain_id=1,
            name="Ethereum mainnet",
            api_host="https://api.dydx.exchange",
            stark_perpetual="0xD54f502e184B6B739d7D27a6410a67dc462D69c8",
            usdc="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            collateral_asset_id=0x02893294412A4C8F915F75892B395EBBF6859EC246EC365C3B1F56F47C3A0A5D,
            fact_registry="0xBE9a129909EbCb954bC065536D2bfAfBd170d27A",
            proxy_deposit="0x8e8bd01b5A9eb272CC3892a2E40E64A716aa2A40",
            testnet=False,
            escape_verifier="0x626211C1e9BC633f4D342Af99f4E8bc93f11F3DD",
        ),
        Network(
            chain_id=3,
            name="Ropsten",
            api_host="https://api.stage.dydx.exchange",
            stark_perpetual="0x014F738EAd8Ec6C50BCD456a971F8B84Cd693BBe",
            usdc="0x8707A5bf4C2842d46B31A405Ba41b858C0F876c4",
            collateral_asset_id=0x02C04D8B650F44092278A7CB1E1028C82025DFF622DB96C934B611B84CC8DE5A,
            fact_registry="0x8Fb814935f7E63DEB304B500180e19dF5167B50e",
            proxy_deposit="0xa4B59b795431de79B56bB28DA877D0f764fF5527",
            testnet=True,
        ),
        Network(
            chain_id=5,
            name="Goerli",
            api_host="https://api.stage.dydx.exchange",
            stark_perpetual="0xFE76edf35648Cc733d57200646cb1Dc63d05462F",
            usdc="0xF7a2fa2c2025fFe64427dd40Dc190d47ecC8B36e",
            collateral_asset_id=0x03BDA2B4764039F2DF44A00A9CF1D1569A83F95406A983CE4BEB95791C376008,
            fact_registry="0xc5061C08cF892C79DDB106B777138982433C8865",
            proxy_deposit="0xbB2Ebb1EE6486deC6b2F569983CcfAe8Ea11e5ca",
            testnet=True,
        ),
        Network(
            chain_id=11155111,
            name="Sepolia",
            api_host="https://api.stage.dydx.exchange",
            stark_perpetual="0x3D05aaCd0fED84f65dE0D91e4621298E702911E2",
            usdc="0x7fC9C132268E0E414991449c003DbdB3E73E2059",
            collateral_asset_id=0x01E70C509C4C6BFAFE8B73D2FC1819444B2C0B435D4B82C0F24ADDFF9565CE25,
            fact_registry="0xCD828e691cA23b66291ae905491Bb89aEe3Abd82",
            proxy_deposit="0x69ebf65bfCa20E45E19a1Ae5c69BAfAF536192f2",
            testnet=True,
        ),
        # The local rehearsal chain (online/rehearsal/evm): a py-evm node whose stand-in contracts are
        # deployed by a public, worthless deployer key at nonces 0, 1 and 2 (USDC, StarkPerpetual, escape
        # verifier), so their addresses are the same on every start and the cold side can check them from
        # this table like any other network's.
        Network(
            chain_id=LOCAL_REHEARSAL_CHAIN_ID,
            name="Local rehearsal",
            api_host="http://127.0.0.1",
            stark_perpetual="0x4877B9660F233423Bc09336976d2CAc779097188",
            usdc="0x05deCAe9Ec891575f8344a78809C59b5E09AF906",
            collateral_asset_id=0x03E960A060FE70E712753299C70471688D5FA63E144FCF5056E747B6FAFDD9FA,
            fact_registry=None,
            proxy_deposit=None,
            testnet=True,
            rehearsal=True,
            escape_verifier="0x3154BA4caB62e0f4fE9871767463D489d8a26408",
        ),
    )
}

_ALIASES = {"mainnet": 1, "ropsten": 3, "goerli": 5, "sepolia": 11155111, "local": LOCAL_REHEARSAL_CHAIN_ID}


def get_network(value: int | str) -> Network:
    """Look a network up by chain id (int or decimal string) or name; unknown ones are an error."""
    key: int | None
    if isinstance(value, int):
        key = value
    else:
        text = value.strip().lower()
        key = _ALIASES.get(text)
        if key is None and text.isdigit() and len(text) < 20:
            key = int(text)
    if key is None or key not in NETWORKS:
        known = ", ".join(
            f"{n.chain_id} ({name})" for name, n in zip(_ALIASES, NETWORKS.values(), strict=True)
        )
        raise InputError(f"unknown network {value!r}: use one of {known}")
    return NETWORKS[key]
