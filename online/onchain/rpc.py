"""Ethereum JSON-RPC over HTTP: the handful of methods the relay needs, with honest failures.

Only failures a retry can cure are retried — transport errors and HTTP 5xx — at most five attempts with
exponential backoff and jitter (:class:`~dydx_airgap.online.http.RetryPolicy`, shared by every online client).
Resending is harmless for every method used here, ``eth_sendRawTransaction`` included: identical signed bytes
have one hash and can be mined once; a repeat is answered "already known" or "nonce too low", which the
broadcaster interprets. A JSON-RPC error object is final and surfaces as :class:`RpcCallError` with the node's
own message, so callers can tell "nonce too low" from "insufficient funds".

Answers are checked before use (security.md T4): quantities must be hex, data must be even-length hex, and
the response id must match. Hosted nodes put access keys in the URL path, so only the origin (scheme, host,
port) is ever shown, written to a payload or journaled.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from dydx_airgap.online.http import (
    RetryPolicy,
    is_loopback_host,
    new_client,
    one_line,
    read_capped,
    system_jitter,
    transport_failure,
)
from dydx_airgap.shared.canonical_json import check_unicode_text
from dydx_airgap.shared.errors import FormatError, InputError, PolicyError, RemoteError
from dydx_airgap.shared.ethereum.address import parse_address

#: Largest JSON-RPC answer read (receipts and blocks without full transactions are far smaller).
MAX_RESPONSE_BYTES = 4 << 20
#: geth's code for a reverted eth_call / eth_estimateGas (the revert data is in ``error.data``).
EXECUTION_REVERTED = 3

_HEX_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
_HEX_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class RpcTarget:
    """A checked node URL. ``url`` (may hold an access key) is used to connect and never shown."""

    url: str
    origin: str  # scheme://host[:port], safe to show and record
    loopback: bool


def parse_rpc_url(url: str) -> RpcTarget:
    """Check ``--rpc``: https, or http on loopback only (a node's answers decide nonce, fees and gas)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError("--rpc is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError("--rpc must start with https:// (or http:// for a node on this machine)")
    host = (parts.hostname or "").lower()
    if not host:
        raise InputError("--rpc names no host")
    loopback = is_loopback_host(host)
    if scheme == "http" and not loopback:
        raise PolicyError(
            f"refusing plain HTTP to the node at {host}: a node on the path could lie about nonce, fees and "
            "chain id; use https:// or an SSH tunnel to 127.0.0.1"
        )
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{shown_host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return RpcTarget(url=text, origin=origin, loopback=loopback)


class RpcCallError(RemoteError):
    """The node answered with a JSON-RPC error object. ``node_message`` is its text (made one-line safe)."""

    def __init__(self, method: str, code: int, node_message: str, data: str | None) -> None:
        super().__init__(f"{method}: the node answered error {code}: {node_message}")
        self.method = method
        self.code = code
        self.node_message = node_message
        self.data = data

    @property
    def reverted(self) -> bool:
        """An eth_call / eth_estimateGas that reverted (geth: code 3, or "execution reverted" text)."""
        return self.code == EXECUTION_REVERTED or "revert" in self.node_message.lower()

    def data_bytes(self) -> bytes:
        if self.data is None or not _HEX_DATA.fullmatch(self.data):
            return b""
        return bytes.fromhex(self.data[2:])


def quantity(value: Any, what: str) -> int:
    """A JSON-RPC quantity (``0x`` hex); anything else means the node is broken or lying."""
    if not isinstance(value, str) or not _HEX_QUANTITY.fullmatch(value):
        raise RemoteError(f"the node's {what} is not a hex quantity")
    return int(value, 16)


def data_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX_DATA.fullmatch(value):
        raise RemoteError(f"the node's {what} is not 0x-prefixed, even-length hex")
    return bytes.fromhex(value[2:])


def _hex(value: int) -> str:
    return hex(value)


def _address_text(address: str | bytes) -> str:
    raw = address if isinstance(address, bytes) else parse_address(address)
    return "0x" + raw.hex()


@dataclass(frozen=True)
class Receipt:
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int
    effective_gas_price: int | None
    logs: tuple[dict[str, Any], ...]

    @property
    def succeeded(self) -> bool:
        return self.status == 1


class EthRpc:
    """A synchronous JSON-RPC client of one node. ``transport`` is any httpx transport (tests, proxies)."""

    def __init__(
        self,
        target: RpcTarget,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = system_jitter,
        report: Reporter | None = None,
    ) -> None:
        self.target = target
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._report = report or (lambda line: None)
        self._ids = itertools.count(1)
        self._client = new_client(
            loopback=target.loopback,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> EthRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the envelope ----

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method``; retries transport errors and 5xx; a JSON-RPC error raises ``RpcCallError``."""
        request_id = next(self._ids)
        body = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)},
            separators=(",", ":"),
        ).encode()
        last = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                pause = self.retry.backoff(attempt - 1, self._jitter())
                self._report(
                    f"{method} to {self.target.origin}: {last}; retry {attempt - 1} of "
                    f"{self.retry.max_attempts - 1} in {pause:.1f} s"
                )
                self._sleep(pause)
            try:
                status, raw = self._post(body)
            except httpx.TransportError as exc:
                last, _ = transport_failure(exc)
                continue
            if status >= 500:
                last = f"HTTP {status}"
                continue
            if not 200 <= status < 300:
                raise RemoteError(f"{method}: the node at {self.target.origin} answered HTTP {status}")
            return self._result(method, request_id, raw)
        raise RemoteError(
            f"{method}: no answer from the node at {self.target.origin} after "
            f"{self.retry.max_attempts} attempts (last: {last})"
        )

    def _post(self, body: bytes) -> tuple[int, bytes]:
        request = self._client.build_request("POST", self.target.url, content=body)
        response = self._client.send(request, stream=True)
        try:
            body = read_capped(response, MAX_RESPONSE_BYTES, "the node's answer")
        finally:
            response.close()
        return response.status_code, body

    def _result(self, method: str, request_id: int, raw: bytes) -> Any:
        try:
            data = json.loads(raw.decode("utf-8"))
            check_unicode_text(data)
        except (UnicodeDecodeError, ValueError, RecursionError, FormatError) as exc:
            raise RemoteError(f"{method}: the node's answer is not JSON") from exc
        if not isinstance(data, dict) or data.get("id") != request_id:
            raise RemoteError(f"{method}: the node's answer is not a JSON-RPC response to this request")
        error = data.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise RemoteError(f"{method}: the node's error is malformed")
            code = error.get("code")
            message = error.get("message")
            extra = error.get("data")
            raise RpcCallError(
                method,
                code if isinstance(code, int) and not isinstance(code, bool) else 0,
                one_line(message if isinstance(message, str) else "no message", 300),
                extra if isinstance(extra, str) and len(extra) < 65536 else None,
            )
        if "result" not in data:
            raise RemoteError(f"{method}: the node's answer has neither result nor error")
        return data["result"]

    # ---- typed methods ----

    def chain_id(self) -> int:
        return quantity(self.call("eth_chainId"), "chain id")

    def block_number(self) -> int:
        return quantity(self.call("eth_blockNumber"), "block number")

    def transaction_count(self, address: str, block: str = "latest") -> int:
        return quantity(self.call("eth_getTransactionCount", _address_text(address), block), "nonce")

    def balance(self, address: str, block: str = "latest") -> int:
        return quantity(self.call("eth_getBalance", _address_text(address), block), "balance")

    def code(self, address: str) -> bytes:
        return data_bytes(self.call("eth_getCode", _address_text(address), "latest"), "contract code")

    def eth_call(
        self,
        to: str | bytes,
        data: bytes,
        *,
        sender: str | bytes | None = None,
        value: int = 0,
        gas: int | None = None,
        block: str | int = "latest",
    ) -> bytes:
        call: dict[str, str] = {"to": _address_text(to), "data": "0x" + data.hex()}
        if sender is not None:
            call["from"] = _address_text(sender)
        if value:
            call["value"] = _hex(value)
        if gas is not None:
            call["gas"] = _hex(gas)
        tag = block if isinstance(block, str) else _hex(block)
        return data_bytes(self.call("eth_call", call, tag), "call result")

    def estimate_gas(self, sender: str, to: str, data: bytes, value: int = 0) -> int:
        call = {"from": _address_text(sender), "to": _address_text(to), "data": "0x" + data.hex()}
        if value:
            call["value"] = _hex(value)
        return quantity(self.call("eth_estimateGas", call), "gas estimate")

    def block(self, tag: str | int = "latest") -> dict[str, Any]:
        block = self.call("eth_getBlockByNumber", tag if isinstance(tag, str) else _hex(tag), False)
        if not isinstance(block, dict):
            raise RemoteError(f"the node has no block {tag}")
        return block

    def fee_history(self, count: int, newest: str, percentiles: list[float]) -> dict[str, Any]:
        history = self.call("eth_feeHistory", _hex(count), newest, percentiles)
        if not isinstance(history, dict):
            raise RemoteError("eth_feeHistory: the answer is not an object")
        return history

    def max_priority_fee(self) -> int:
        return quantity(self.call("eth_maxPriorityFeePerGas"), "priority fee suggestion")

    def send_raw_transaction(self, raw: bytes) -> bytes:
        result = data_bytes(self.call("eth_sendRawTransaction", "0x" + raw.hex()), "transaction hash")
        if len(result) != 32:
            raise RemoteError("eth_sendRawTransaction: the node's answer is not a 32-byte hash")
        return result

    def transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        found = self.call("eth_getTransactionByHash", "0x" + tx_hash.hex())
        if found is not None and not isinstance(found, dict):
            raise RemoteError("eth_getTransactionByHash: the answer is not an object")
        return found

    def logs(
        self, address: str, topics: list[str | None], from_block: int, to_block: int | str = "latest"
    ) -> list[dict[str, Any]]:
        """eth_getLogs of one contract between two blocks (inclusive); entries are checked to be objects."""
        query = {
            "address": _address_text(address),
            "topics": topics,
            "fromBlock": _hex(from_block),
            "toBlock": to_block if isinstance(to_block, str) else _hex(to_block),
        }
        found = self.call("eth_getLogs", query)
        if not isinstance(found, list) or not all(isinstance(entry, dict) for entry in found):
            raise RemoteError("eth_getLogs: the answer is not a list of log objects")
        return found

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        found = self.call("eth_getTransactionReceipt", "0x" + tx_hash.hex())
        if found is None:
            return None
        if not isinstance(found, dict):
            raise RemoteError("eth_getTransactionReceipt: the answer is not an object")
        answered = data_bytes(found.get("transactionHash"), "receipt hash")
        if answered != tx_hash:
            raise RemoteError(
                "eth_getTransactionReceipt: the node answered with another transaction's receipt"
            )
        logs = found.get("logs") or []
        if not isinstance(logs, list) or not all(isinstance(entry, dict) for entry in logs):
            raise RemoteError("eth_getTransactionReceipt: the logs are malformed")
        price = found.get("effectiveGasPrice")
        return Receipt(
            tx_hash=answered,
            block_number=quantity(found.get("blockNumber"), "receipt block number"),
            block_hash=data_bytes(found.get("blockHash"), "receipt block hash"),
            status=quantity(found.get("status"), "receipt status"),
            gas_used=quantity(found.get("gasUsed"), "receipt gas used"),
            effective_gas_price=None if price is None else quantity(price, "effective gas price"),
            logs=tuple(logs),
        )
