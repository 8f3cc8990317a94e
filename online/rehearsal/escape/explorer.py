"""A stand-in of the L2BEAT StarkEx Explorer pages a relay reads during a dYdX v3 escape.

Served by ``serve-chain`` on its JSON-RPC port under ``/explorer`` (``http://127.0.0.1:PORT/explorer``):

* ``GET /explorer/escape/<positionId>`` with the cookie ``account=<0x address>``: the escape page, whose
  ``<form id="verify-escape-request-form" data-props="…">`` carries, as HTML-escaped JSON,
  ``escapeVerifierAddress``, ``positionOrVaultId``, ``starkKey``, ``tradingMode: "perpetual"``,
  ``serializedMerkleProof`` and ``serializedState`` (decimal strings) and ``assetCount`` (spec
  escape-hatch.md §A6). Like the explorer it answers 404 "not found" with a message and no form when
  there is no account cookie, the exchange is not frozen, the position is unknown, the account is not the
  position's registered address (``getEthKey`` on chain), or an escape was already used for the position
  (an ``escape`` transaction for it succeeded).
* ``GET /explorer/proof/<positionId>``: the position's leaf fields and Merkle path as JSON inside
  ``<pre id="merkle-proof">``, for an independent check of the leaf; public, once a state exists.
* ``GET /explorer``: an index of the positions.

Everything is read from the chain at request time except the proofs, which are the book the freezer
kept (an explorer rebuilds them from L1 data; the rehearsal already has them).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from dydx_airgap.online.rehearsal.escape import calls
from dydx_airgap.online.rehearsal.escape.freeze import EscapeBook, Freezer
from dydx_airgap.online.rehearsal.escape.leaf import position_items
from dydx_airgap.online.rehearsal.escape.proof import decode_merkle_proof
from dydx_airgap.online.rehearsal.evm import LocalChain
from dydx_airgap.online.rehearsal.evm.node import LogFilter
from dydx_airgap.online.rehearsal.evm.rpc import HttpAnswer
from dydx_airgap.shared.ethereum.address import parse_address
from dydx_airgap.shared.ethereum.keccak import keccak256

EXPLORER_PREFIX = "/explorer"
VERIFY_ESCAPE_FORM_ID = "verify-escape-request-form"
_POSITION_PATH = re.compile(r"/explorer/(escape|proof)/([0-9]{1,20})/?")
_ACCOUNT = re.compile(r"0x[0-9a-fA-F]{40}")
_ESCAPE_SELECTOR = calls.selector("escape(uint256,uint256,uint256)")
_LOG_WITHDRAWAL_ALLOWED = keccak256(b"LogWithdrawalAllowed(uint256,uint256,uint256,uint256)")
_HTML = "text/html; charset=utf-8"


class ExplorerStandIn:
    """The GET handler of ``/explorer``; reads the book from ``book`` on every request."""

    def __init__(self, chain: LocalChain, freezer: Freezer, book: Callable[[], EscapeBook]) -> None:
        self._chain = chain
        self._freezer = freezer
        self._book = book

    def __call__(self, raw_path: str, headers: Mapping[str, str]) -> HttpAnswer:
        path = raw_path.split("?", 1)[0]
        if path.rstrip("/") == EXPLORER_PREFIX:
            return self._index()
        match = _POSITION_PATH.fullmatch(path)
        if match is None:
            return _not_found("Page not found")
        position_id = int(match.group(2))
        if match.group(1) == "proof":
            return self._proof_page(position_id)
        return self._escape_page(position_id, _account(headers))

    # --- pages ----------------------------------------------------------------------------------------

    def _escape_page(self, position_id: int, account: str | None) -> HttpAnswer:
        if account is None:
            return _not_found("No account: send the cookie account=<0x address> of the position's owner")
        if not self._freezer.is_frozen():
            return _not_found("The exchange is not frozen: there is no escape to make")
        book = self._book()
        position = book.state.positions.get(position_id)
        if position is None:
            return _not_found(f"Position #{position_id} not found")
        owner = self._freezer.registered_address(position.stark_key)
        if owner is None or owner.lower() != account.lower():
            return _not_found(f"Position #{position_id} does not belong to account {account}")
        if position_id in self._escaped_positions():
            return _not_found(f"The escape of position #{position_id} was already used")
        props = {
            "escapeVerifierAddress": self._chain.deployment.escape_verifier.address,
            "positionOrVaultId": str(position_id),
            "starkKey": f"0x{position.stark_key:064x}",
            "tradingMode": "perpetual",
            "serializedMerkleProof": [str(word) for word in book.state.proofs[position_id]],
            "assetCount": position.n_assets,
            "serializedState": [str(word) for word in book.state.shared_state],
        }
        user = {"address": owner, "starkKey": props["starkKey"]}
        body = (
            f"<h1>Escape hatch: position #{position_id}</h1>\n<p>Value the verifier will compute: "
            f"{book.state.withdrawals[position_id]} quantized collateral.</p>\n"
            f'<form id="{VERIFY_ESCAPE_FORM_ID}" data-props="{_attribute(props)}" '
            f'data-user="{_attribute(user)}">\n<button>Verify the escape</button>\n</form>'
        )
        return _page(200, "Escape hatch", body)

    def _proof_page(self, position_id: int) -> HttpAnswer:
        book = self._book()
        position = book.state.positions.get(position_id)
        if position is None:
            return _not_found(f"Position #{position_id} not found")
        words = book.state.proofs[position_id]
        decoded = decode_merkle_proof(words, position.n_assets)
        leaf = {
            "positionId": str(position_id),
            "starkKey": f"0x{position.stark_key:064x}",
            "collateralBalance": str(position.collateral),
            "assets": [
                {
                    "assetId": f"0x{asset.asset_id:030x}",
                    "balance": str(asset.balance),
                    "cachedFundingIndex": str(asset.cached_funding),
                }
                for asset in position.assets
            ],
            "items": [f"0x{item:064x}" for item in position_items(position)],
            "leafHashChain": [f"0x{state:064x}" for state in decoded.chain],
            "path": [{"left": f"0x{left:064x}", "right": f"0x{right:064x}"} for left, right in decoded.path],
            "root": f"0x{decoded.root:064x}",
            "sharedStateHash": "0x" + book.state.state_hash.hex(),
        }
        text = html.escape(json.dumps(leaf, indent=2), quote=False)
        return _page(200, f"Merkle proof of position #{position_id}", f'<pre id="merkle-proof">{text}</pre>')

    def _index(self) -> HttpAnswer:
        book = self._book()
        frozen = self._freezer.is_frozen()
        rows = "\n".join(
            f'<li><a href="{EXPLORER_PREFIX}/proof/{pid}">#{pid}</a> '
            f'<a href="{EXPLORER_PREFIX}/escape/{pid}">escape</a></li>'
            for pid in sorted(book.state.positions)
        )
        status = "frozen" if frozen else "not frozen"
        return _page(
            200, "StarkEx Explorer (local stand-in)", f"<p>The exchange is {status}.</p>\n<ul>{rows}</ul>"
        )

    # --- chain reads ----------------------------------------------------------------------------------

    def _escaped_positions(self) -> set[int]:
        """Position ids of successful ``escape`` calls: each one credited a withdrawal in its transaction."""
        node = self._chain.node
        perpetual = parse_address(self._chain.deployment.stark_perpetual.address)
        entries = node.logs(LogFilter(0, node.block_number(), (perpetual,), ((_LOG_WITHDRAWAL_ALLOWED,),)))
        used: set[int] = set()
        for entry in entries:
            record = node.transaction(entry.transaction_hash)
            data = record.signed.data if record is not None else b""
            if record is not None and record.signed.to == perpetual and data[:4] == _ESCAPE_SELECTOR:
                used.add(int.from_bytes(data[36:68], "big"))
        return used


def _account(headers: Mapping[str, str]) -> str | None:
    raw = next((value for name, value in headers.items() if name.lower() == "cookie"), None)
    if raw is None:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except CookieError:
        return None
    morsel = cookie.get("account")
    if morsel is None or not _ACCOUNT.fullmatch(morsel.value):
        return None
    return morsel.value


def _attribute(value: Any) -> str:
    return html.escape(json.dumps(value, separators=(",", ":")), quote=True)


def _page(status: int, title: str, body: str) -> HttpAnswer:
    document = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
        f"<body>\n<p><em>Local rehearsal stand-in of the StarkEx Explorer; not a dYdX service.</em></p>\n"
        f"{body}\n</body></html>\n"
    )
    return HttpAnswer(status, _HTML, document.encode())


def _not_found(message: str) -> HttpAnswer:
    return _page(404, "Not found", f'<h1>Not found</h1>\n<p class="message">{html.escape(message)}</p>')
