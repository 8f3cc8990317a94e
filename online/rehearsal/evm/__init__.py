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
from collections.abc import Callable, Iterable
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
from dydx_airgap.online.rehearsal.evm.node import CallRequest, LocalNode, TransactionRecord
from dydx_airgap.online.rehearsal.evm.rpc import GetHandler, Handler, JsonRpcDispatcher, LocalRpcServer
from dydx_airgap.shared.ethereum.address import parse_address

DEFAULT_CHAIN_ID = 11155111  # the rehearsal network pretends to be Sepolia (with its own addresses)

__all__ = ["DEFAULT_CHAIN_ID", "Deployment", "FundSpec", "LocalChain", "start_local_chain"]


class LocalChain:
    """A running local chain. Use as a context manager or call ``stop()``."""

    def __init__(
        self,
        node: LocalNode,
        server: LocalRpcServer,
        deployer: Deployer,
        deployment: Deployment,
        dispatcher: JsonRpcDispatcher,
    ) -> None:
        self.node = node
        self._server = server
        self._deployer = deployer
        self._dispatcher = dispatcher
        self.deployment = deployment
        self._published: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self._server.url

    def send_as_deployer(self, to: str, data: bytes) -> TransactionRecord:
        """Send a call from the deployer (governor and operator of the stand-ins) and mine it.

        Raises ``RuntimeError`` if it reverts; the deployer's transactions are the rehearsal's own setup.
        """
        return self._deployer.send(parse_address(to), data)

    def call(self, to: str, data: bytes) -> bytes:
        """eth_call against the latest block (reverts raise ``RpcError``)."""
        return self.node.call(CallRequest(to=parse_address(to), data=data), self.node.block_number())

    def increase_time(self, seconds: int, *, mine: bool = True) -> int:
        """Move block time ahead (and mine a block, so calls see it); returns the latest block's time."""
        self.node.increase_time(seconds)
        if mine:
            self.node.mine()
        return self.latest_timestamp()

    def latest_timestamp(self) -> int:
        block = self.node.block(self.node.block_number())
        return 0 if block is None else int(block.header.timestamp)

    def add_rpc_method(self, name: str, handler: Handler) -> None:
        """Serve another (rehearsal-only) JSON-RPC method."""
        self._dispatcher.methods[name] = handler

    def add_get_route(self, prefix: str, handler: GetHandler) -> None:
        """Serve GET pages under ``prefix`` on the JSON-RPC port (e.g. the explorer stand-in)."""
        self._server.add_get_route(prefix, handler)

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

    def publish(self, key: str, value: Any) -> None:
        """Add a field to the deployment JSON (file and ``dydx_localChain``), e.g. the explorer's URL."""
        if key in self.deployment.to_json():
            raise ValueError(f"{key} is a deployment field already")
        self._published[key] = value

    def describe(self) -> dict[str, Any]:
        """The deployment JSON: addresses, ABIs, events, funded accounts, and what was published."""
        return {**self.deployment.to_json(), **self._published}

    def write_deployment(self, path: Path) -> None:
        """Write the deployment JSON atomically: a reader polling for the file never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(self.describe(), handle, indent=2)
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
    setup: Callable[[LocalChain], None] | None = None,
) -> LocalChain:
    """Start the node, serve JSON-RPC on ``host:port`` (0 = a free port), deploy and fund.

    ``operator`` is the address whose signatures ``registerUser`` accepts. ``fund`` entries are
    ``FundSpec`` or ``"ADDRESS[:ETH[:USDC]]"`` strings. Deployment happens with automine on even when
    ``automine`` is False, which only applies to transactions sent afterwards. ``setup`` runs after
    funding and before the server answers or the deployment file is written: it may add RPC methods,
    GET routes and published fields, and send its own transactions (the escape rehearsal does).
    """
    parse_address(operator)
    specs = [spec if isinstance(spec, FundSpec) else FundSpec.parse(spec) for spec in fund]
    node = LocalNode(chain_id, {parse_address(DEPLOYER_ADDRESS): DEPLOYER_BALANCE_WEI}, automine=True)
    dispatcher = JsonRpcDispatcher(node)
    server = LocalRpcServer(dispatcher, host, port)
    try:
        deployer, deployment = deploy_stand_ins(node, operator, server.url, cache_dir)
        chain = LocalChain(node, server, deployer, deployment, dispatcher)
        for spec in specs:
            chain.fund(spec.address, spec.eth_wei, spec.usdc_units)
        dispatcher.methods["dydx_localChain"] = _deployment_method(chain)
        if setup is not None:
            setup(chain)
        node.automine = automine
        server.start()
        if deployment_out is not None:
            chain.write_deployment(deployment_out)
    except BaseException:
        server.stop()
        raise
    return chain


def _deployment_method(chain: LocalChain) -> Any:
    def describe(params: list[Any]) -> dict[str, Any]:
        return chain.describe()

    return describe
