"""A local Ethereum chain for rehearsals and tests: a real EVM (py-evm) behind JSON-RPC on 127.0.0.1.

At start it compiles and deploys the stand-ins (``contracts/*.vy``): "USD Coin (local)" and a
StarkPerpetual with ``registerUser``/``deposit``/``getEthKey`` whose user admin is the given operator (the
local dYdX API's registration signer), then funds accounts with ETH and stand-in USDC. The addresses are
in ``LocalChain.deployment``, in the JSON file written with ``deployment_out`` and from the
``dydx_localChain`` RPC method. Nothing here is reachable from the relay's production code path; it is
the other end of the wire for rehearsals.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from dydx_airgap.online.rehearsal.evm.deploy import (
    DEPLOYER_ADDRESS,
    DEPLOYER_BALANCE_WEI,
    Deployer,
    Deployment,
    FundSpec,
    deploy_stand_ins,
    fund_account,
)
from dydx_airgap.online.rehearsal.evm.node import LocalNode
from dydx_airgap.online.rehearsal.evm.rpc import JsonRpcDispatcher, LocalRpcServer
from dydx_airgap.shared.ethereum.address import parse_address

DEFAULT_CHAIN_ID = 11155111  # the rehearsal network pretends to be Sepolia (with its own addresses)

__all__ = ["DEFAULT_CHAIN_ID", "Deployment", "FundSpec", "LocalChain", "start_local_chain"]


class LocalChain:
    """A running local chain. Use as a context manager or call ``stop()``."""

    def __init__(
        self, node: LocalNode, server: LocalRpcServer, deployer: Deployer, deployment: Deployment
    ) -> None:
        self.node = node
        self._server = server
        self._deployer = deployer
        self.deployment = deployment

    @property
    def url(self) -> str:
        return self._server.url

    def fund(self, address: str, eth_wei: int = 0, usdc_units: int = 0) -> None:
        """Give ``address`` ETH (wei) and stand-in USDC (base units) from the deployer.

        Each transfer is mined at once, so without automine this also mines whatever is pending.
        """
        spec = FundSpec(address=address, eth_wei=eth_wei, usdc_units=usdc_units)
        fund_account(self._deployer, self.deployment, spec)
        self.deployment = replace(self.deployment, funded=(*self.deployment.funded, spec))

    def mine(self, count: int = 1) -> int:
        """Mine ``count`` blocks (pending transactions go into the first); returns the new head number."""
        self.node.mine(count)
        return self.node.block_number()

    def write_deployment(self, path: Path) -> None:
        """Write the deployment JSON atomically: a reader polling for the file never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(self.deployment.to_json(), handle, indent=2)
            handle.write("\n")
        os.replace(handle.name, path)

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LocalChain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_chain(
    *,
    operator: str,
    chain_id: int = DEFAULT_CHAIN_ID,
    fund: Iterable[FundSpec | str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    deployment_out: Path | None = None,
    automine: bool = True,
    cache_dir: Path | None = None,
) -> LocalChain:
    """Start the node, serve JSON-RPC on ``host:port`` (0 = a free port), deploy and fund.

    ``operator`` is the address whose signatures ``registerUser`` accepts. ``fund`` entries are
    ``FundSpec`` or ``"ADDRESS[:ETH[:USDC]]"`` strings. Deployment happens with automine on even when
    ``automine`` is False, which only applies to transactions sent afterwards.
    """
    parse_address(operator)
    specs = [spec if isinstance(spec, FundSpec) else FundSpec.parse(spec) for spec in fund]
    node = LocalNode(chain_id, {parse_address(DEPLOYER_ADDRESS): DEPLOYER_BALANCE_WEI}, automine=True)
    dispatcher = JsonRpcDispatcher(node)
    server = LocalRpcServer(dispatcher, host, port)
    try:
        deployer, deployment = deploy_stand_ins(node, operator, server.url, cache_dir)
        chain = LocalChain(node, server, deployer, deployment)
        for spec in specs:
            chain.fund(spec.address, spec.eth_wei, spec.usdc_units)
        node.automine = automine
        dispatcher.methods["dydx_localChain"] = _deployment_method(chain)
        server.start()
        if deployment_out is not None:
            chain.write_deployment(deployment_out)
    except BaseException:
        server.stop()
        raise
    return chain


def _deployment_method(chain: LocalChain) -> Any:
    def describe(params: list[Any]) -> dict[str, Any]:
        return chain.deployment.to_json()

    return describe
