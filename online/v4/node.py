"""A dYdX Chain node's REST API (spec §B5, §B6), as the relay reads and writes it.

Built on the one HTTP base (``online/http.py``: TLS, no redirects, capped answers, the retry policy and its
wording) and the host rule of ``online/relay/target.py`` (``--node``: https unless loopback). Every answer
is read with the strict proto3 JSON readers and cross-checked where the request allows it — the address,
chain id and transaction hash asked for must be the ones answered — because these answers become the
account number, sequence, fee and timeout height the cold key signs.

Reads (and simulate, which changes nothing) are retried on transport errors and HTTP 5xx with the policy's
bounded backoff. :meth:`V4Node.broadcast_sync` is never retried here: it makes exactly one attempt and says
whether the transaction may have reached the node (:class:`BroadcastUncertain`) or certainly did not
(:class:`NotSent`); what to do next is ``delivery``'s decision, which queries the status first.

A 404 means "none" only when the node's message names what was asked for (the account, the tx hash): a
node whose base URL is wrong also answers 404, and treating that as "not yet included" would wait forever.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from dydx_airgap.online.http import (
    RetryPolicy,
    new_client,
    one_line,
    read_capped,
    system_jitter,
    transport_failure,
)
from dydx_airgap.online.relay.target import NodeTarget
from dydx_airgap.online.v4 import proto3_json as pj
from dydx_airgap.online.v4.proto3_json import MalformedAnswer
from dydx_airgap.shared.dydx_v4.address import check_address
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.messages import MAX_SUBACCOUNT_NUMBER as MAX_SUB
from dydx_airgap.shared.dydx_v4.messages import USDC_ASSET_ID
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.tx import SECP256K1_PUBKEY_TYPE_URL, tx_hash
from dydx_airgap.shared.errors import InputError, RemoteError

#: Largest answer read: an account's authenticators or a block's txs are far smaller.
MAX_ANSWER_BYTES = 4 << 20
#: Pages of bank balances followed at most (100 denoms a page on a default node).
MAX_BALANCE_PAGES = 20
BASE_ACCOUNT_TYPE = "/cosmos.auth.v1beta1.BaseAccount"
SYNC = "BROADCAST_MODE_SYNC"

Reporter = Callable[[str], None]


class NodeRefused(RemoteError):
    """The gateway answered 4xx with its ``{code, message}``: the request was refused, nothing happened."""

    def __init__(self, what: str, status: int, node_message: str) -> None:
        super().__init__(f"{what}: the node answered HTTP {status}: {node_message}")
        self.status = status
        self.node_message = node_message


class NotSent(RemoteError):
    """The broadcast certainly did not reach the node (no connection): sending it again is safe."""


class BroadcastUncertain(RemoteError):
    """The broadcast may have reached the node but no answer came: query the status before anything else."""


@dataclass(frozen=True)
class AccountInfo:
    address: str
    account_number: int
    sequence: int
    #: The key the chain has stored for the account (None until its first transaction).
    pub_key: bytes | None


@dataclass(frozen=True)
class LatestBlock:
    chain_id: str
    height: int
    time: str


@dataclass(frozen=True)
class SubaccountInfo:
    owner: str
    number: int
    usdc_quantums: int
    perpetual_positions: int


@dataclass(frozen=True)
class OnChainAuthenticator:
    id: int
    type: str
    config: bytes


@dataclass(frozen=True)
class TxResult:
    """A ``tx_response``: the CheckTx answer of a SYNC broadcast (height 0) or an included result."""

    txhash: str
    height: int
    code: int
    codespace: str
    raw_log: str
    gas_wanted: int
    gas_used: int

    @property
    def ok(self) -> bool:
        return self.code == 0


def _gateway_message(raw: bytes) -> str:
    """The gateway's ``{"code", "message"}`` text, one line and escaped, or a note that none came."""
    try:
        document = pj.parse_document(raw, "error")
    except MalformedAnswer:
        return "no gateway error message"
    message = document.get("message")
    return one_line(message, 300) if isinstance(message, str) and message else "no gateway error message"


def _tx_result(response: dict[str, Any], what: str) -> TxResult:
    return TxResult(
        txhash=pj.text(response, "txhash", what, limit=64),
        height=pj.uint64(response, "height", what),
        code=pj.uint32(response, "code", what),
        codespace=one_line(pj.text(response, "codespace", what, limit=200), 60),
        raw_log=pj.text(response, "raw_log", what, limit=1 << 16),
        gas_wanted=pj.uint64(response, "gas_wanted", what),
        gas_used=pj.uint64(response, "gas_used", what),
    )


class V4Node:
    """A synchronous client of one node's REST API. ``transport``: any httpx transport (tests, proxies)."""

    def __init__(
        self,
        target: NodeTarget,
        network: V4Network,
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
        self.network = network
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._report = report or (lambda line: None)
        self._client = new_client(
            loopback=target.loopback,
            headers={"Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> V4Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the envelope ----

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        request = self._client.build_request(method, self.target.base + path, json=body)
        response = self._client.send(request, stream=True)
        try:
            raw = read_capped(response, MAX_ANSWER_BYTES, "the node's answer")
        finally:
            response.close()
        return response.status_code, raw

    def _call(
        self, method: str, path: str, what: str, body: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        """One request, retried on transport errors and 5xx only (callers make only idempotent ones)."""
        last = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                pause = self.retry.backoff(attempt - 1, self._jitter())
                self._report(
                    f"{what} from {self.target.origin}: {last}; retry {attempt - 1} of "
                    f"{self.retry.max_attempts - 1} in {pause:.1f} s"
                )
                self._sleep(pause)
            try:
                status, raw = self._once(method, path, body)
            except httpx.TransportError as exc:
                last, _ = transport_failure(exc)
                continue
            if status >= 500:
                last = f"HTTP {status}"
                continue
            return status, raw
        raise RemoteError(
            f"{what}: no answer from the node at {self.target.origin} after "
            f"{self.retry.max_attempts} attempts (last: {last})"
        )

    def _document(self, method: str, path: str, what: str, body: dict[str, Any] | None = None) -> Any:
        status, raw = self._call(method, path, what, body)
        if status != 200:
            raise NodeRefused(what, status, _gateway_message(raw))
        return pj.parse_document(raw, what)

    def _found_or_none(self, path: str, what: str, names: str) -> dict[str, Any] | None:
        """The answer, or None for a 404 whose message names ``names`` (see the module docstring)."""
        status, raw = self._call("GET", path, what)
        if status == 404:
            message = _gateway_message(raw)
            if names.lower() in message.lower():
                return None
            raise RemoteError(
                f"{what}: the node at {self.target.origin} does not serve {path.split('/')[1]}… "
                f"(HTTP 404: {message}); is --node the REST (LCD) address?"
            )
        if status != 200:
            raise NodeRefused(what, status, _gateway_message(raw))
        return pj.parse_document(raw, what)

    # ---- queries ----

    def latest_block(self) -> LatestBlock:
        """Height and time of the latest block; refused if the node serves another chain."""
        what = "latest block"
        document = self._document("GET", "/cosmos/base/tendermint/v1beta1/blocks/latest", what)
        # SDK v0.50 answers both; sdk_block is the newer form, block the older one.
        block = document.get("sdk_block") if isinstance(document.get("sdk_block"), dict) else None
        header = pj.obj(block if block is not None else pj.obj(document, "block", what), "header", what)
        chain_id = pj.text(header, "chain_id", what, limit=100)
        if chain_id != self.network.chain_id:
            raise RemoteError(
                f"the node at {self.target.origin} serves chain {one_line(chain_id, 60)!r}, "
                f"not {self.network.chain_id}"
            )
        height = pj.uint64(header, "height", what)
        return LatestBlock(chain_id, height, pj.text(header, "time", what, limit=64))

    def account(self, address: str) -> AccountInfo | None:
        """Account number and sequence; None while the address has never received funds (spec §B5)."""
        check_address(address)
        what = f"account {address}"
        document = self._found_or_none(f"/cosmos/auth/v1beta1/accounts/{address}", what, address)
        if document is None:
            return None
        account = pj.obj(document, "account", what)
        kind = account.get("@type")
        if kind != BASE_ACCOUNT_TYPE:
            # A module or vesting account is not one a cold key signs for; its fields differ too.
            shown = one_line(str(kind), 80)
            raise MalformedAnswer(f"{what}: the node answered a {shown} account, not a base account")
        if account.get("address") != address:
            raise MalformedAnswer(f"{what}: the node answered for another address")
        pub_key: bytes | None = None
        raw_key = account.get("pub_key")
        if raw_key is not None:
            if not isinstance(raw_key, dict) or raw_key.get("@type") != SECP256K1_PUBKEY_TYPE_URL:
                raise MalformedAnswer(f"{what}: pub_key is not a secp256k1 key")
            pub_key = pj.base64_bytes(raw_key, "key", what, limit=100)
            if len(pub_key) != 33:
                raise MalformedAnswer(f"{what}: pub_key is not a 33-byte compressed key")
        return AccountInfo(
            address, pj.uint64(account, "account_number", what), pj.uint64(account, "sequence", what), pub_key
        )

    def smart_accounts_active(self) -> bool:
        """``is_smart_account_active`` of x/accountplus: authenticators (trading keys) work only when true."""
        what = "accountplus params"
        params = pj.obj(self._document("GET", "/dydxprotocol/accountplus/params", what), "params", what)
        return pj.boolean(params, "is_smart_account_active", what)

    def balances(self, address: str) -> tuple[Coin, ...]:
        """Every bank coin of ``address``, following the gateway's pages (bounded)."""
        check_address(address)
        what = f"bank balances of {address}"
        coins: list[Coin] = []
        next_key = ""
        for _ in range(MAX_BALANCE_PAGES):
            path = f"/cosmos/bank/v1beta1/balances/{address}"
            if next_key:
                path += "?pagination.key=" + quote(next_key, safe="")
            document = self._document("GET", path, what)
            for entry in pj.array(document, "balances", what):
                if not isinstance(entry, dict):
                    raise MalformedAnswer(f"{what}: a balance is not an object")
                amount = pj.text(entry, "amount", what, limit=80)
                if not amount.isdigit() or (len(amount) > 1 and amount[0] == "0"):
                    raise MalformedAnswer(f"{what}: an amount is not a decimal integer string")
                try:
                    coins.append(Coin(pj.text(entry, "denom", what, limit=128), int(amount)))
                except InputError as exc:
                    raise MalformedAnswer(f"{what}: {exc.message}") from None
            pagination = document.get("pagination")
            key = pagination.get("next_key") if isinstance(pagination, dict) else None
            if key in (None, ""):
                return tuple(coins)
            if not isinstance(key, str) or len(key) > 1024:
                raise MalformedAnswer(f"{what}: pagination.next_key is not a string")
            next_key = key
        raise RemoteError(f"{what}: more than {MAX_BALANCE_PAGES} pages; refusing to read on")

    def balance(self, address: str, denom: str) -> int:
        return sum(c.amount for c in self.balances(address) if c.denom == denom)

    def subaccount(self, owner: str, number: int) -> SubaccountInfo:
        """The subaccount's USDC (asset 0) in quantums and how many perpetual positions it holds."""
        check_address(owner)
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_SUB:
            raise InputError(f"a subaccount number is from 0 to {MAX_SUB}")
        what = f"subaccount {owner}/{number}"
        document = self._document("GET", f"/dydxprotocol/subaccounts/subaccount/{owner}/{number}", what)
        sub = pj.obj(document, "subaccount", what)
        ident = pj.obj(sub, "id", what)
        if ident.get("owner") != owner or pj.uint32(ident, "number", what, default=0) != number:
            raise MalformedAnswer(f"{what}: the node answered for another subaccount")
        usdc = 0
        for entry in pj.array(sub, "asset_positions", what):
            if not isinstance(entry, dict):
                raise MalformedAnswer(f"{what}: an asset position is not an object")
            if pj.uint32(entry, "asset_id", what, default=0) == USDC_ASSET_ID:
                usdc += pj.big_int(entry, "quantums", what)
        positions = sub.get("perpetual_positions", [])
        if not isinstance(positions, list):
            raise MalformedAnswer(f"{what}: perpetual_positions is not an array")
        return SubaccountInfo(owner, number, usdc, len(positions))

    def authenticators(self, address: str) -> tuple[OnChainAuthenticator, ...]:
        check_address(address)
        what = f"authenticators of {address}"
        document = self._document("GET", f"/dydxprotocol/accountplus/authenticators/{address}", what)
        found: list[OnChainAuthenticator] = []
        for entry in pj.array(document, "account_authenticators", what):
            if not isinstance(entry, dict):
                raise MalformedAnswer(f"{what}: an authenticator is not an object")
            found.append(
                OnChainAuthenticator(
                    pj.uint64(entry, "id", what),
                    pj.text(entry, "type", what, limit=64),
                    pj.base64_bytes(entry, "config", what, limit=1 << 16),
                )
            )
        if len({a.id for a in found}) != len(found):
            raise MalformedAnswer(f"{what}: an authenticator id is listed twice")
        return tuple(found)

    # ---- transactions ----

    def simulate(self, tx_bytes: bytes) -> int:
        """Gas used by ``tx_bytes`` (unsigned or signed TxRaw); a refusal is :class:`NodeRefused`."""
        what = "simulate"
        body = {"tx_bytes": base64.b64encode(tx_bytes).decode("ascii")}
        document = self._document("POST", "/cosmos/tx/v1beta1/simulate", what, body)
        gas_used = pj.uint64(pj.obj(document, "gas_info", what), "gas_used", what)
        if gas_used == 0:
            raise MalformedAnswer(f"{what}: the node reports 0 gas used, which no transaction uses")
        return gas_used

    def broadcast_sync(self, tx_bytes: bytes) -> TxResult:
        """Send once in SYNC mode and return the CheckTx answer (see the module docstring for failures)."""
        digest = tx_hash(tx_bytes)
        what = f"broadcast {digest}"
        body = {"tx_bytes": base64.b64encode(tx_bytes).decode("ascii"), "mode": SYNC}
        try:
            status, raw = self._once("POST", "/cosmos/tx/v1beta1/txs", body)
        except httpx.TransportError as exc:
            description, maybe_sent = transport_failure(exc)
            if maybe_sent:
                raise BroadcastUncertain(f"{what} to {self.target.origin}: {description}") from None
            raise NotSent(f"{what} to {self.target.origin}: {description}") from None
        if status >= 500:
            # A gateway or proxy error may come after CheckTx accepted the transaction.
            raise BroadcastUncertain(f"{what} to {self.target.origin}: HTTP {status}")
        if status != 200:
            raise NodeRefused(what, status, _gateway_message(raw))
        result = _tx_result(pj.obj(pj.parse_document(raw, what), "tx_response", what), what)
        if result.txhash.upper() != digest:
            raise MalformedAnswer(f"{what}: the node answered for another transaction")
        return result

    def tx(self, digest: str) -> TxResult | None:
        """The included result of ``digest``; None while it is not in a block (pending, or unknown)."""
        if len(digest) != 64 or any(c not in "0123456789ABCDEF" for c in digest.upper()):
            raise InputError("a transaction hash is 64 hex digits")
        what = f"tx {digest.upper()}"
        document = self._found_or_none(f"/cosmos/tx/v1beta1/txs/{digest.upper()}", what, digest)
        if document is None:
            return None
        result = _tx_result(pj.obj(document, "tx_response", what), what)
        if result.txhash.upper() != digest.upper():
            raise MalformedAnswer(f"{what}: the node answered for another transaction")
        if result.height == 0:
            raise MalformedAnswer(f"{what}: an included transaction at height 0")
        return result
