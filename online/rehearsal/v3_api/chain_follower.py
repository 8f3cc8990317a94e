"""Follow the local chain's StarkPerpetual stand-in, so users and accounts reflect what happened on-chain.

dYdX's indexer saw ``LogUserRegistered`` (→ ``isRegistered: true``) and ``LogDeposit`` (→ the account's
balance, once the operator accepted the deposit). The local follower polls ``eth_getLogs`` over JSON-RPC
for those two events and applies them through :meth:`Store.apply_chain_events`, moving a cursor in the
same transaction so a restart neither misses nor double-counts an event. Deposits are credited straight
to ``quoteBalance`` (the local operator accepts every deposit at once).

The deployment JSON (written by ``dydx_airgap.online.rehearsal.evm``) names the contract, the first block, the
event topics, the collateral asset id and the RPC URL. The API starts *before* the chain — the chain needs
the API's operator address — so the follower waits for the deployment file to appear. One database
follows one chain: pointing an old database at a fresh chain at the same address is not detected.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dydx_airgap.online.rehearsal.v3_api.store import Store
from dydx_airgap.shared.errors import RemoteError
from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.timestamps import iso_ms, now_utc

logger = logging.getLogger("dydx_airgap.local_api.chain")

#: StarkEx's event signatures (the stand-in keeps their field order and types; nothing is indexed).
TOPIC_USER_REGISTERED = "0x" + keccak256(b"LogUserRegistered(address,uint256,address)").hex()
TOPIC_DEPOSIT = "0x" + keccak256(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)").hex()


@dataclass(frozen=True)
class ChainDeployment:
    rpc_url: str
    stark_perpetual: str
    collateral_asset_id: int
    first_block: int
    operator: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any], rpc_url: str | None = None) -> ChainDeployment:
        try:
            events = data.get("events", {})
            for name, topic in (("LogUserRegistered", TOPIC_USER_REGISTERED), ("LogDeposit", TOPIC_DEPOSIT)):
                if name in events and str(events[name]).lower() != topic:
                    raise RemoteError(
                        f"the deployment's {name} topic is not the StarkEx event: check the file"
                    )
            return cls(
                rpc_url=rpc_url or str(data["rpcUrl"]),
                stark_perpetual="0x" + parse_address(str(data["starkPerpetual"])).hex(),
                collateral_asset_id=int(str(data["collateralAssetId"]), 16),
                first_block=int(data.get("deploymentBlock", 0)),
                operator=data.get("operator"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteError(
                "the deployment file lacks rpcUrl, starkPerpetual or collateralAssetId"
            ) from exc


def _words(data_hex: str, count: int) -> list[int]:
    raw = bytes.fromhex(data_hex.removeprefix("0x"))
    if len(raw) != 32 * count:
        raise RemoteError(f"an event carried {len(raw)} data bytes, expected {32 * count}")
    return [int.from_bytes(raw[i : i + 32], "big") for i in range(0, len(raw), 32)]


class JsonRpc:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        # No keep-alive: a poll every fraction of a second does not need it, and a node that closes idle
        # connections would otherwise turn every other poll into a reset.
        self._http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))
        self._url = url
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        response = self._http.post(
            self._url, json={"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("error"):
            raise RemoteError(f"{method} failed: {str(body['error'].get('message', 'error'))[:200]}")
        return body.get("result")

    def close(self) -> None:
        self._http.close()


class ChainFollower:
    """A daemon thread applying the stand-in's events to the store every ``poll_seconds``."""

    def __init__(
        self,
        store: Store,
        deployment_file: Path | None = None,
        rpc_url: str | None = None,
        *,
        poll_seconds: float = 0.25,
    ) -> None:
        if deployment_file is None and rpc_url is None:
            raise ValueError("the chain follower needs a deployment file")
        self.store = store
        self.deployment_file = deployment_file
        self.rpc_url = rpc_url
        self.poll_seconds = poll_seconds
        self.deployment: ChainDeployment | None = None
        self._rpc: JsonRpc | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-dydx-api:chain", daemon=True)
        self._last_error = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._rpc is not None:
            self._rpc.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
                self._last_error = ""
            except (httpx.HTTPError, RemoteError, ValueError, OSError) as exc:
                text = f"{type(exc).__name__}: {exc}"
                if text != self._last_error:  # say it once, not every poll
                    logger.warning("chain follower: %s", text)
                    self._last_error = text
            self._stop.wait(self.poll_seconds)

    def _load_deployment(self) -> ChainDeployment | None:
        if self.deployment is not None:
            return self.deployment
        if self.deployment_file is None or not self.deployment_file.exists():
            return None
        deployment = ChainDeployment.from_json(json.loads(self.deployment_file.read_text()), self.rpc_url)
        operator = self.store.operator.address
        if deployment.operator and parse_address(deployment.operator) != parse_address(operator):
            logger.warning(
                "chain follower: the stand-in's user admin %s is not this API's operator %s: "
                "registerUser will reject this API's registration signatures",
                deployment.operator,
                operator,
            )
        self.deployment = deployment
        self._rpc = JsonRpc(deployment.rpc_url)
        return deployment

    def poll_once(self) -> int:
        """Apply the events of every block mined since the last poll; return how many were applied."""
        deployment = self._load_deployment()
        if deployment is None or self._rpc is None:
            return 0
        cursor_name = deployment.stark_perpetual
        start = self.store.chain_cursor(cursor_name)
        first = deployment.first_block if start is None else start
        head = int(self._rpc.call("eth_blockNumber"), 16)
        if first > head:
            return 0
        logs = self._rpc.call(
            "eth_getLogs",
            {
                "fromBlock": hex(first),
                "toBlock": hex(head),
                "address": deployment.stark_perpetual,
                "topics": [[TOPIC_USER_REGISTERED, TOPIC_DEPOSIT]],
            },
        )
        registrations: list[tuple[str, int]] = []
        deposits: list[tuple[int, int, int]] = []
        for log in sorted(logs or [], key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16))):
            if log.get("removed"):
                continue
            topic = str(log["topics"][0]).lower()
            if topic == TOPIC_USER_REGISTERED:
                eth_key, stark_key, _sender = _words(log["data"], 3)
                registrations.append(("0x" + eth_key.to_bytes(32, "big")[12:].hex(), stark_key))
            elif topic == TOPIC_DEPOSIT:
                _depositor, stark_key, vault_id, asset_type, amount, _quantized = _words(log["data"], 6)
                if asset_type == deployment.collateral_asset_id:
                    # nonQuantizedAmount is in the token's base units: USDC base units, whatever the quantum.
                    deposits.append((stark_key, vault_id, amount))
        self.store.apply_chain_events(cursor_name, head + 1, registrations, deposits, iso_ms(now_utc()))
        return len(registrations) + len(deposits)
