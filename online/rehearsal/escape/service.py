"""The escape rehearsal on a running local chain: its JSON-RPC methods, the explorer route, the fixture.

``attach_escape`` is what ``serve-chain`` runs at start (and what tests run on their own chain): it
serves the explorer stand-in under ``/explorer`` and three rehearsal-only JSON-RPC methods:

* ``dydx_localEscapeUpdateState`` ``[{syntheticPositions?, syntheticOwner?, seed?}]``: one state update
  (pending deposits accepted, generated positions added once);
* ``dydx_localEscapeFreeze`` ``[{updateState? (default true), syntheticPositions?, syntheticOwner?,
  seed?}]``: that update (unless ``updateState`` is false), then the forced withdrawal, the 14-day
  grace and ``freezeRequest``;
* ``dydx_localEscapeBook`` ``[]``: the current state hash, transactions and positions.

Each answers the book's summary (``freeze.book_summary``) plus the explorer's URL. With
``fixture="mainnet-pos1"`` the chain is frozen at start with the real mainnet state (no deposit needed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dydx_airgap.online.rehearsal.escape.explorer import EXPLORER_PREFIX, ExplorerStandIn
from dydx_airgap.online.rehearsal.escape.freeze import (
    MAX_SYNTHETIC_POSITIONS,
    EscapeBook,
    Freezer,
    book_summary,
)
from dydx_airgap.online.rehearsal.evm import LocalChain
from dydx_airgap.online.rehearsal.evm.node import INVALID_PARAMS, SERVER_ERROR, RpcError
from dydx_airgap.shared.errors import AirgapError, InputError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address

#: The fixtures ``serve-chain --escape-fixture`` knows.
ESCAPE_FIXTURES = ("mainnet-pos1",)
_OPTION_NAMES = {"syntheticPositions", "syntheticOwner", "seed", "updateState"}


class EscapeService:
    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self.freezer = Freezer(chain)

    @property
    def explorer_url(self) -> str:
        return self.chain.url + EXPLORER_PREFIX

    def summary(self, book: EscapeBook) -> dict[str, Any]:
        owners = {
            position_id: self.freezer.registered_address(position.stark_key)
            for position_id, position in book.state.positions.items()
        }
        return {
            **book_summary(book, owners),
            "frozen": self.freezer.is_frozen(),
            "explorer": self.explorer_url,
        }

    def _update(self, params: list[Any]) -> dict[str, Any]:
        options = _options(params)
        return self.summary(_run(lambda: self.freezer.update_state(**_update_arguments(options))))

    def _freeze(self, params: list[Any]) -> dict[str, Any]:
        options = _options(params)
        update = options.get("updateState", True)
        if not isinstance(update, bool):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: updateState must be true or false")
        arguments = _update_arguments(options)

        def freeze() -> EscapeBook:
            if self.freezer.is_frozen():
                raise InputError("the local exchange is frozen already")
            if update:
                self.freezer.update_state(**arguments)
            return self.freezer.freeze()

        return self.summary(_run(freeze))

    def _book(self, params: list[Any]) -> dict[str, Any]:
        if params:
            raise RpcError(INVALID_PARAMS, "dydx_localEscapeBook takes no arguments")
        return self.summary(self.freezer.book)


def attach_escape(chain: LocalChain, fixture: str | None = None) -> EscapeService:
    """Serve the explorer and the escape RPC methods on ``chain``; install ``fixture`` if given."""
    if fixture is not None and fixture not in ESCAPE_FIXTURES:
        raise ValueError(f"unknown escape fixture {fixture!r}: use one of {', '.join(ESCAPE_FIXTURES)}")
    service = EscapeService(chain)
    chain.add_get_route(
        EXPLORER_PREFIX, ExplorerStandIn(chain, service.freezer, lambda: service.freezer.book)
    )
    chain.add_rpc_method("dydx_localEscapeUpdateState", service._update)
    chain.add_rpc_method("dydx_localEscapeFreeze", service._freeze)
    chain.add_rpc_method("dydx_localEscapeBook", service._book)
    chain.publish("explorer", service.explorer_url)
    if fixture == "mainnet-pos1":
        service.freezer.install_mainnet_fixture()
    return service


def _options(params: list[Any]) -> dict[str, Any]:
    if len(params) > 1 or (params and not isinstance(params[0], dict)):
        raise RpcError(INVALID_PARAMS, "invalid argument 0: expected one options object, or none")
    options: dict[str, Any] = params[0] if params else {}
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise RpcError(INVALID_PARAMS, f"invalid argument 0: unknown option {sorted(unknown)[0]}")
    return options


def _update_arguments(options: dict[str, Any]) -> dict[str, Any]:
    count = options.get("syntheticPositions", 0)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_SYNTHETIC_POSITIONS:
        raise RpcError(INVALID_PARAMS, f"syntheticPositions must be 0 to {MAX_SYNTHETIC_POSITIONS}")
    owner = options.get("syntheticOwner")
    if owner is not None:
        try:
            owner = to_checksum_address(parse_address(owner))
        except (AirgapError, TypeError, ValueError):
            raise RpcError(INVALID_PARAMS, "syntheticOwner must be a 0x address") from None
    seed = options.get("seed", "rehearsal")
    if not isinstance(seed, str) or len(seed) > 64:
        raise RpcError(INVALID_PARAMS, "seed must be a string of at most 64 characters")
    return {"synthetic": count, "synthetic_owner": owner, "seed": seed.encode()}


def _run(step: Callable[[], EscapeBook]) -> EscapeBook:
    try:
        book: EscapeBook = step()
    except AirgapError as exc:
        raise RpcError(SERVER_ERROR, exc.message) from None
    return book
