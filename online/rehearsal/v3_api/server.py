"""Running the local API: ``serve`` for the CLI, ``start_local_api`` for tests (uvicorn in a thread).

uvicorn is driven with our own subclass of its h11 protocol, which offers the application a way to close
the connection without any response (ASGI has no such message); fault injection needs it to simulate a
connection that dies, before or after the request was processed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from dydx_airgap.online.rehearsal.v3_api.app import Clock, create_app
from dydx_airgap.online.rehearsal.v3_api.chain_follower import ChainFollower
from dydx_airgap.online.rehearsal.v3_api.faults import DROP_EXTENSION, FaultPlan
from dydx_airgap.online.rehearsal.v3_api.ledger import Ledger
from dydx_airgap.online.rehearsal.v3_api.store import Store
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import InputError

DEFAULT_CHAIN_ID = 11155111
DEFAULT_PORT = 8300
#: How long a stopping server waits for requests still being served (e.g. a held "late" response).
_GRACEFUL_SHUTDOWN_SECONDS = 2


class DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus the ``dydx_airgap.drop_connection`` scope extension."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def drop() -> None:
            self.transport.close()
            # Let connection_lost run, so uvicorn knows the client is gone and sends no 500 of its own.
            for _ in range(3):
                await asyncio.sleep(0)

        async def app_with_drop(scope: Any, receive: Any, send: Any) -> None:
            extensions = {**scope.get("extensions", {}), DROP_EXTENSION: drop}
            await inner({**scope, "extensions": extensions}, receive, send)

        self.app = app_with_drop


def _check_chain_id(chain_id: int) -> int:
    return get_network(chain_id).chain_id


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppableH11Protocol,
        lifespan="off",
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


def _follower(
    store: Store, deployment: str | os.PathLike[str] | None, rpc_url: str | None
) -> ChainFollower | None:
    if deployment is None:
        if rpc_url is not None:
            raise InputError("--rpc needs --deployment: the deployment file names the contract to follow")
        return None
    return ChainFollower(store, Path(deployment), rpc_url)


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    db: str | os.PathLike[str] = "local-dydx-api.sqlite3",
    chain_id: int = DEFAULT_CHAIN_ID,
    faults: FaultPlan | None = None,
    *,
    deployment: str | os.PathLike[str] | None = None,
    rpc_url: str | None = None,
    log_level: str = "info",
) -> None:
    """Run the local dYdX v3 API in the foreground until interrupted (Ctrl+C / SIGTERM).

    Prints the operator address first: the local chain's StarkPerpetual stand-in must be deployed with it.
    With ``deployment`` (the local chain's deployment JSON, which may appear later) it follows the chain's
    registration and deposit events; ``rpc_url`` overrides the file's RPC URL.
    """
    chain_id = _check_chain_id(chain_id)
    store = Store.open(db)
    follower = _follower(store, deployment, rpc_url)
    try:
        app = create_app(store, chain_id, faults=faults)
        network = get_network(chain_id)
        print(f"local dYdX v3 API for {network.label} on http://{host}:{port}", flush=True)
        print(f"database: {Path(db).resolve()}", flush=True)
        print(f"operator address (registration signer): {store.operator.address}", flush=True)
        if faults is not None:
            print("FAULT INJECTION IS ON: this server misbehaves on purpose", file=sys.stderr, flush=True)
        if follower is not None:
            print(f"following chain events from {follower.deployment_file}", flush=True)
            follower.start()
        uvicorn.Server(_config(app, host, port, log_level)).run()
    finally:
        if follower is not None:
            follower.stop()
        store.close()


@dataclass
class LocalApiHandle:
    """A running in-process server. ``stop()`` is idempotent."""

    url: str
    operator_address: str
    db_path: Path
    store: Store
    ledger: Ledger
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _cleanup: Callable[[], None] | None = field(default=None, repr=False)
    follower: ChainFollower | None = None

    def stop(self) -> None:
        if not self._thread.is_alive() and self._cleanup is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_GRACEFUL_SHUTDOWN_SECONDS + 10)
        if self.follower is not None:
            self.follower.stop()
        self.store.close()
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def __enter__(self) -> LocalApiHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_api(
    db: str | os.PathLike[str] | None = None,
    chain_id: int = DEFAULT_CHAIN_ID,
    faults: FaultPlan | None = None,
    *,
    clock: Clock | None = None,
    deployment: str | os.PathLike[str] | None = None,
    rpc_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> LocalApiHandle:
    """Start the API in a background thread on a free port (``port=0``) and wait until it listens.

    ``db=None`` uses a temporary database removed by ``stop()``. ``clock`` replaces the server clock
    (tests replaying signed vectors at their original timestamps). ``deployment``/``rpc_url``: see
    :func:`serve`.
    """
    chain_id = _check_chain_id(chain_id)
    cleanup: Callable[[], None] | None = None
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="dydx-local-api-")
        db_path = Path(tmp.name) / "local-api.sqlite3"
        cleanup = tmp.cleanup
    else:
        db_path = Path(db)
    store = Store.open(db_path)
    ledger = Ledger()
    app = create_app(store, chain_id, clock=clock, faults=faults, ledger=ledger)
    # Bind here, so the port is known and held before the thread starts (no race for a "free" port).
    # proto=IPPROTO_TCP matters: asyncio only disables Nagle on sockets that say they are TCP, and
    # with Nagle on, every keep-alive response waits ~40 ms for a delayed ACK.
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        store.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        store.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, bound_port, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"local-dydx-api:{bound_port}", daemon=True
    )
    thread.start()
    handle = LocalApiHandle(
        url=f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}",
        operator_address=store.operator.address,
        db_path=db_path,
        store=store,
        ledger=ledger,
        _server=server,
        _thread=thread,
        _cleanup=cleanup,
        follower=_follower(store, deployment, rpc_url),
    )
    deadline = time.monotonic() + startup_timeout
    while thread.is_alive() and not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        handle.stop()
        sock.close()
        raise RuntimeError("the local dYdX API did not start")
    if handle.follower is not None:
        handle.follower.start()
    return handle
