"""Ethereum JSON-RPC over HTTP for a ``LocalNode``: the methods a relay uses, with geth's conventions.

Quantities are ``0x`` hex without leading zeros, data is even-length ``0x`` hex, addresses come back in
lower case, and malformed parameters are refused (-32602) rather than guessed at — the relay talks to
real nodes too, and a request only this server would accept would hide a bug until the real network.

The HTTP side is the standard library's threading server bound to loopback. JSON-RPC is served by POST
on every path; GET answers 405 except under the prefixes other rehearsal pages registered
(``LocalRpcServer.add_get_route``, e.g. the explorer stand-in under ``/explorer``).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from typing import Any

from dydx_airgap.online.rehearsal.evm.node import (
    DYNAMIC_FEE,
    INVALID_PARAMS,
    LEGACY,
    CallRequest,
    LocalNode,
    LogEntry,
    LogFilter,
    PooledTransaction,
    RpcError,
    TransactionRecord,
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_BATCH = 100
MAX_FEE_HISTORY_BLOCKS = 1024
# evm_increaseTime moves at most ten years per call: enough for every StarkEx delay, and timestamps stay
# far from the 2^32 / 2^64 bounds contracts check.
MAX_TIME_STEP_SECONDS = 10 * 366 * 86400

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")
_BLOCK_TAGS = {"latest", "pending", "safe", "finalized", "earliest"}

Handler = Callable[[list[Any]], Any]


@dataclass(frozen=True)
class HttpAnswer:
    """What a GET route answers: status, content type, body, extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


#: A GET route: (the request path with its query, the request headers) → the answer.
GetHandler = Callable[[str, Mapping[str, str]], HttpAnswer]


class JsonRpcDispatcher:
    """Maps JSON-RPC requests to ``LocalNode`` calls; independent of HTTP."""

    def __init__(self, node: LocalNode, extra_methods: dict[str, Handler] | None = None) -> None:
        self.node = node
        self.methods: dict[str, Handler] = {
            "web3_clientVersion": lambda p: f"dydx-airgap-local/py-evm-{version('py-evm')}",
            "net_version": lambda p: str(node.chain_id),
            "net_listening": lambda p: True,
            "eth_chainId": lambda p: _hex(node.chain_id),
            "eth_syncing": lambda p: False,
            "eth_accounts": lambda p: [],
            "eth_blockNumber": lambda p: _hex(node.block_number()),
            "eth_gasPrice": lambda p: _hex(node.next_base_fee() + node.priority_fee),
            "eth_maxPriorityFeePerGas": lambda p: _hex(node.priority_fee),
            "eth_getBalance": self._get_balance,
            "eth_getTransactionCount": self._get_transaction_count,
            "eth_getCode": self._get_code,
            "eth_getStorageAt": self._get_storage_at,
            "eth_call": self._call,
            "eth_estimateGas": self._estimate_gas,
            "eth_sendRawTransaction": self._send_raw_transaction,
            "eth_getTransactionByHash": self._get_transaction_by_hash,
            "eth_getTransactionReceipt": self._get_transaction_receipt,
            "eth_getBlockByNumber": self._get_block_by_number,
            "eth_getBlockByHash": self._get_block_by_hash,
            "eth_getLogs": self._get_logs,
            "eth_feeHistory": self._fee_history,
            "evm_mine": self._mine,
            "evm_increaseTime": self._increase_time,
        }
        self.methods.update(extra_methods or {})

    # --- envelope --------------------------------------------------------------------------------------

    def handle_body(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dump(_error_response(None, PARSE_ERROR, "parse error"))
        if isinstance(request, list):
            if not request:
                return _dump(_error_response(None, INVALID_REQUEST, "empty batch"))
            if len(request) > MAX_BATCH:
                return _dump(_error_response(None, INVALID_REQUEST, f"batch larger than {MAX_BATCH}"))
            return _dump([self.handle(item) for item in request])
        return _dump(self.handle(request))

    def handle(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return _error_response(None, INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 object")
        request_id = request.get("id")
        if not isinstance(request_id, str | int | type(None)) or isinstance(request_id, bool):
            return _error_response(None, INVALID_REQUEST, "invalid request: bad id")
        method = request.get("method")
        params = request.get("params", [])
        if not isinstance(method, str):
            return _error_response(request_id, INVALID_REQUEST, "invalid request: method must be a string")
        if not isinstance(params, list):
            return _error_response(request_id, INVALID_PARAMS, "params must be an array")
        handler = self.methods.get(method)
        if handler is None:
            return _error_response(
                request_id, METHOD_NOT_FOUND, f"the method {method[:80]} does not exist/is not available"
            )
        try:
            result = handler(params)
        except RpcError as exc:
            return _error_response(request_id, exc.code, exc.message, exc.data)
        except Exception as exc:  # noqa: BLE001 - a bug must still produce a JSON-RPC answer
            traceback.print_exc(file=sys.stderr)
            return _error_response(request_id, INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # --- state -----------------------------------------------------------------------------------------

    def _get_balance(self, params: list[Any]) -> str:
        address, tag = _arguments(params, 2, 1)
        return _hex(self.node.balance(_address(address, 0), self._block(tag, 1)))

    def _get_transaction_count(self, params: list[Any]) -> str:
        address, tag = _arguments(params, 2, 1)
        account = _address(address, 0)
        if tag == "pending":
            return _hex(self.node.nonce(account, None))
        return _hex(self.node.nonce(account, self._block(tag, 1)))

    def _get_code(self, params: list[Any]) -> str:
        address, tag = _arguments(params, 2, 1)
        return "0x" + self.node.code(_address(address, 0), self._block(tag, 1)).hex()

    def _get_storage_at(self, params: list[Any]) -> str:
        address, slot, tag = _arguments(params, 3, 2)
        value = self.node.storage_at(_address(address, 0), _quantity(slot, 1), self._block(tag, 2))
        return "0x" + value.to_bytes(32, "big").hex()

    def _call(self, params: list[Any]) -> str:
        call, tag = _arguments(params, 2, 1)
        return "0x" + self.node.call(_call_request(call), self._block(tag, 1)).hex()

    def _estimate_gas(self, params: list[Any]) -> str:
        call, tag = _arguments(params, 2, 1)
        return _hex(self.node.estimate_gas(_call_request(call), self._block(tag, 1)))

    # --- transactions ----------------------------------------------------------------------------------

    def _send_raw_transaction(self, params: list[Any]) -> str:
        (raw,) = _arguments(params, 1, 1)
        return "0x" + self.node.send_raw_transaction(_data(raw, 0)).hex()

    def _get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        (tx_hash,) = _arguments(params, 1, 1)
        record = self.node.transaction(_hash(tx_hash, 0))
        return None if record is None else _transaction_json(record)

    def _get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        (tx_hash,) = _arguments(params, 1, 1)
        record = self.node.transaction(_hash(tx_hash, 0))
        if record is None or not record.mined:
            return None
        return _receipt_json(record)

    def _mine(self, params: list[Any]) -> str:
        (count,) = _arguments(params, 1, 0)
        blocks = 1 if count is None else _quantity(count, 0)
        if not 1 <= blocks <= 1000:
            raise RpcError(INVALID_PARAMS, "invalid argument 0: mine between 1 and 1000 blocks")
        self.node.mine(blocks)
        return _hex(self.node.block_number())

    def _increase_time(self, params: list[Any]) -> int:
        """Development nodes' evm_increaseTime: seconds as a JSON number or a 0x quantity.

        Returns the total offset in seconds as a JSON number, as Ganache does. Later blocks carry the new
        time; send evm_mine to make it the latest block's time for eth_call and eth_estimateGas.
        """
        (seconds,) = _arguments(params, 1, 1)
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            step = seconds
        else:
            step = _quantity(seconds, 0)
        if not 0 <= step <= MAX_TIME_STEP_SECONDS:
            raise RpcError(
                INVALID_PARAMS, f"invalid argument 0: move time 0 to {MAX_TIME_STEP_SECONDS} seconds ahead"
            )
        return self.node.increase_time(step)

    # --- blocks, logs, fees ----------------------------------------------------------------------------

    def _get_block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        tag, full = _arguments(params, 2, 2)
        number = self._block(tag, 0, missing_ok=True)
        block = None if number is None else self.node.block(number)
        return None if block is None else self._block_json(block, _boolean(full, 1))

    def _get_block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        block_hash, full = _arguments(params, 2, 2)
        block = self.node.block_by_hash(_hash(block_hash, 0))
        return None if block is None else self._block_json(block, _boolean(full, 1))

    def _block_json(self, block: Any, full: bool) -> dict[str, Any]:
        header = block.header
        records = [self.node.transaction(h) for h in block.transaction_hashes]
        transactions: list[Any] = [
            _transaction_json(record) if full else "0x" + record.hash.hex()
            for record in records
            if record is not None
        ]
        result = {
            "number": _hex(block.number),
            "hash": "0x" + block.hash.hex(),
            "parentHash": "0x" + header.parent_hash.hex(),
            "nonce": "0x" + header.nonce.hex(),
            "sha3Uncles": "0x" + header.uncles_hash.hex(),
            "logsBloom": "0x" + header.bloom.to_bytes(256, "big").hex(),
            "transactionsRoot": "0x" + header.transaction_root.hex(),
            "stateRoot": "0x" + header.state_root.hex(),
            "receiptsRoot": "0x" + header.receipt_root.hex(),
            "miner": "0x" + header.coinbase.hex(),
            "difficulty": _hex(header.difficulty),
            "totalDifficulty": _hex(header.difficulty),
            "extraData": "0x" + header.extra_data.hex(),
            "size": _hex(block.size),
            "gasLimit": _hex(header.gas_limit),
            "gasUsed": _hex(header.gas_used),
            "timestamp": _hex(header.timestamp),
            "transactions": transactions,
            "uncles": [],
            "baseFeePerGas": _hex(header.base_fee_per_gas),
            "mixHash": "0x" + header.mix_hash.hex(),
            "withdrawals": [],
            "withdrawalsRoot": "0x" + header.withdrawals_root.hex(),
        }
        for name, field_name in (("blobGasUsed", "blob_gas_used"), ("excessBlobGas", "excess_blob_gas")):
            if hasattr(header, field_name):
                result[name] = _hex(getattr(header, field_name))
        for name, field_name in (
            ("parentBeaconBlockRoot", "parent_beacon_block_root"),
            ("requestsHash", "requests_hash"),
        ):
            if hasattr(header, field_name):
                result[name] = "0x" + getattr(header, field_name).hex()
        return result

    def _get_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        (criteria,) = _arguments(params, 1, 1)
        if not isinstance(criteria, dict):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: the filter must be an object")
        if "blockHash" in criteria:
            if "fromBlock" in criteria or "toBlock" in criteria:
                raise RpcError(INVALID_PARAMS, "invalid argument 0: blockHash excludes fromBlock/toBlock")
            block = self.node.block_by_hash(_hash(criteria["blockHash"], 0))
            if block is None:
                raise RpcError(-32000, "unknown block")
            first = last = block.number
        else:
            first = self._block(criteria.get("fromBlock"), 0)
            last = self._block(criteria.get("toBlock"), 0)
            if first > last:
                raise RpcError(INVALID_PARAMS, "invalid argument 0: fromBlock is after toBlock")
        address = criteria.get("address")
        addresses = (
            ()
            if address is None
            else tuple(_address(a, 0) for a in (address if isinstance(address, list) else [address]))
        )
        topics = criteria.get("topics") or []
        if not isinstance(topics, list) or len(topics) > 4:
            raise RpcError(INVALID_PARAMS, "invalid argument 0: topics must be a list of at most 4 entries")
        wanted: list[tuple[bytes, ...] | None] = []
        for topic in topics:
            if topic is None:
                wanted.append(None)
            elif isinstance(topic, list):
                alternatives = [_hash(t, 0) for t in topic if t is not None]
                wanted.append(None if len(alternatives) < len(topic) or not topic else tuple(alternatives))
            else:
                wanted.append((_hash(topic, 0),))
        entries = self.node.logs(LogFilter(first, last, addresses, tuple(wanted)))
        return [_log_json(entry) for entry in entries]

    def _fee_history(self, params: list[Any]) -> dict[str, Any]:
        count, newest, percentiles = _arguments(params, 3, 2)
        block_count = count if isinstance(count, int) and not isinstance(count, bool) else _quantity(count, 0)
        if not 1 <= block_count <= MAX_FEE_HISTORY_BLOCKS:
            raise RpcError(
                INVALID_PARAMS, f"invalid argument 0: blockCount must be 1..{MAX_FEE_HISTORY_BLOCKS}"
            )
        newest_number = self._block(newest, 1)
        wanted = percentiles or []
        if (
            not isinstance(wanted, list)
            or not all(
                isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 100 for p in wanted
            )
            or wanted != sorted(wanted)
        ):
            raise RpcError(INVALID_PARAMS, "invalid argument 2: reward percentiles must rise from 0 to 100")
        oldest, base_fees, ratios, rewards = self.node.fee_history(block_count, newest_number, wanted)
        result: dict[str, Any] = {
            "oldestBlock": _hex(oldest),
            "baseFeePerGas": [_hex(fee) for fee in base_fees],
            "gasUsedRatio": ratios,
        }
        if wanted:
            result["reward"] = [[_hex(tip) for tip in block] for block in rewards]
        return result

    # --- block parameters ------------------------------------------------------------------------------

    def _block(self, tag: Any, position: int, *, missing_ok: bool = False) -> Any:
        head = self.node.block_number()
        if tag is None or tag in ("latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):  # EIP-1898
            if "blockHash" in tag:
                block = self.node.block_by_hash(_hash(tag["blockHash"], position))
                if block is None:
                    raise RpcError(-32000, "header for hash not found")
                return block.number
            return self._block(tag.get("blockNumber"), position, missing_ok=missing_ok)
        if isinstance(tag, str) and tag not in _BLOCK_TAGS:
            number = _quantity(tag, position)
            if number > head:
                if missing_ok:
                    return None
                raise RpcError(-32000, "header not found")
            return number
        raise RpcError(INVALID_PARAMS, f"invalid argument {position}: not a block number or tag")


class LocalRpcServer:
    """A ``ThreadingHTTPServer`` serving a dispatcher on a loopback address, in a daemon thread."""

    def __init__(self, dispatcher: JsonRpcDispatcher, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            raise ValueError("the local chain listens on loopback only (its deployer key is public)")
        self._server = _Server((host, port), _RequestHandler)
        self._server.dispatcher = dispatcher
        self._server.get_routes = {}
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-chain-rpc", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}"

    def add_get_route(self, prefix: str, handler: GetHandler) -> None:
        """Serve GET ``prefix`` and everything below it (``prefix/…``) with ``handler``."""
        if not prefix.startswith("/") or prefix.endswith("/") or prefix == "":
            raise ValueError("a route prefix looks like /name")
        self._server.get_routes[prefix] = handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe before ``start`` and when called twice."""
        if self._thread.is_alive():
            # shutdown() waits for serve_forever to notice, so it must only be called once it runs.
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: JsonRpcDispatcher
    get_routes: dict[str, GetHandler]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._reply(411, b'{"error":"Content-Length required"}')
            return
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self._reply(413, b'{"error":"request body too large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length)
        self._reply(200, self.server.dispatcher.handle_body(body))

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        for prefix, handler in self.server.get_routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                try:
                    answer = handler(self.path, dict(self.headers.items()))
                except Exception:  # noqa: BLE001 - a bug in a page must still produce an HTTP answer
                    traceback.print_exc(file=sys.stderr)
                    answer = HttpAnswer(500, "text/plain; charset=utf-8", b"internal error\n")
                self._reply(
                    answer.status, answer.body, dict(answer.headers), content_type=answer.content_type
                )
                return
        self._reply(405, b'{"error":"JSON-RPC is served by POST"}', extra={"Allow": "POST"})

    def _reply(
        self,
        status: int,
        body: bytes,
        extra: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the relay's own output


# --- parameter parsing ----------------------------------------------------------------------------------


def _arguments(params: list[Any], maximum: int, required: int) -> list[Any]:
    if not required <= len(params) <= maximum:
        raise RpcError(INVALID_PARAMS, f"expected {required} to {maximum} arguments, got {len(params)}")
    return params + [None] * (maximum - len(params))


def _quantity(value: Any, position: int) -> int:
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value) or len(value) > 66:
        raise RpcError(
            INVALID_PARAMS, f"invalid argument {position}: quantities are 0x hex without leading zeros"
        )
    return int(value, 16)


def _data(value: Any, position: int) -> bytes:
    if not isinstance(value, str) or not _DATA.fullmatch(value):
        raise RpcError(INVALID_PARAMS, f"invalid argument {position}: data must be 0x and even-length hex")
    return bytes.fromhex(value[2:])


def _fixed(value: Any, size: int, what: str, position: int) -> bytes:
    raw = _data(value, position)
    if len(raw) != size:
        raise RpcError(INVALID_PARAMS, f"invalid argument {position}: {what} must be {size} bytes")
    return raw


def _address(value: Any, position: int) -> bytes:
    return _fixed(value, 20, "an address", position)


def _hash(value: Any, position: int) -> bytes:
    return _fixed(value, 32, "a hash", position)


def _boolean(value: Any, position: int) -> bool:
    if not isinstance(value, bool):
        raise RpcError(INVALID_PARAMS, f"invalid argument {position}: expected true or false")
    return value


def _call_request(call: Any) -> CallRequest:
    if not isinstance(call, dict):
        raise RpcError(INVALID_PARAMS, "invalid argument 0: the call must be an object")
    data = call.get("input")
    legacy_data = call.get("data")
    if data is not None and legacy_data is not None and data != legacy_data:
        raise RpcError(INVALID_PARAMS, 'invalid argument 0: both "data" and "input" are set and differ')
    payload = data if data is not None else legacy_data
    return CallRequest(
        sender=_address(call["from"], 0) if call.get("from") is not None else bytes(20),
        to=_address(call["to"], 0) if call.get("to") is not None else None,
        gas=_quantity(call["gas"], 0) if call.get("gas") is not None else None,
        value=_quantity(call["value"], 0) if call.get("value") is not None else 0,
        data=_data(payload, 0) if payload is not None else b"",
    )


# --- result formatting ----------------------------------------------------------------------------------


def _hex(value: int) -> str:
    return hex(value)


def _address_json(raw: bytes | None) -> str | None:
    return None if raw is None else "0x" + raw.hex()


def _transaction_json(record: TransactionRecord) -> dict[str, Any]:
    tx: PooledTransaction = record.signed
    mined = record.mined
    price = record.effective_gas_price if record.effective_gas_price is not None else tx.max_fee_per_gas
    # The fields geth returns for each type: a legacy transaction has neither fee caps nor an access list.
    answer: dict[str, Any] = {"type": _hex(tx.tx_type), "chainId": _hex(tx.chain_id), "nonce": _hex(tx.nonce)}
    answer["gas"] = _hex(tx.gas_limit)
    if tx.tx_type == DYNAMIC_FEE:
        answer["maxFeePerGas"] = _hex(tx.max_fee_per_gas)
        answer["maxPriorityFeePerGas"] = _hex(tx.max_priority_fee_per_gas)
    answer["gasPrice"] = _hex(price)
    answer.update(to=_address_json(tx.to), value=_hex(tx.value), input="0x" + tx.data.hex())
    if tx.tx_type != LEGACY:
        answer["accessList"] = [
            {"address": "0x" + address.hex(), "storageKeys": ["0x" + k.hex() for k in keys]}
            for address, keys in tx.access_list
        ]
        answer["yParity"] = _hex(tx.v)
    answer.update(
        v=_hex(tx.v),
        r=_hex(tx.r),
        s=_hex(tx.s),
        hash="0x" + record.hash.hex(),
        **{"from": "0x" + record.sender.hex()},
        blockHash="0x" + record.block_hash.hex() if mined and record.block_hash else None,
        blockNumber=_hex(record.block_number) if record.block_number is not None else None,
        transactionIndex=_hex(record.index) if record.index is not None else None,
    )
    return answer


def _receipt_json(record: TransactionRecord) -> dict[str, Any]:
    tx = record.signed
    if record.block_hash is None or record.block_number is None or record.index is None:
        raise RpcError(-32000, "transaction is not mined yet")
    return {
        "type": _hex(tx.tx_type),
        "transactionHash": "0x" + record.hash.hex(),
        "transactionIndex": _hex(record.index),
        "blockHash": "0x" + record.block_hash.hex(),
        "blockNumber": _hex(record.block_number),
        "from": "0x" + record.sender.hex(),
        "to": _address_json(tx.to),
        "cumulativeGasUsed": _hex(record.cumulative_gas_used or 0),
        "gasUsed": _hex(record.gas_used or 0),
        "effectiveGasPrice": _hex(record.effective_gas_price or 0),
        "contractAddress": _address_json(record.contract_address),
        "logs": [_log_json(entry) for entry in record.logs],
        "logsBloom": "0x" + record.logs_bloom.to_bytes(256, "big").hex(),
        "status": _hex(record.status or 0),
    }


def _log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "address": "0x" + entry.address.hex(),
        "topics": ["0x" + topic.hex() for topic in entry.topics],
        "data": "0x" + entry.data.hex(),
        "blockNumber": _hex(entry.block_number),
        "blockHash": "0x" + entry.block_hash.hex(),
        "transactionHash": "0x" + entry.transaction_hash.hex(),
        "transactionIndex": _hex(entry.transaction_index),
        "logIndex": _hex(entry.log_index),
        "removed": False,
    }


def _error_response(request_id: Any, code: int, message: str, data: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _dump(response: Any) -> bytes:
    return json.dumps(response, separators=(",", ":")).encode()
