"""Running the stand-in: ``serve`` for ``dydx-relay serve-v4``, ``start_v4_node`` for tests (a thread).

Both bind loopback, open the SQLite state (applying the genesis only to a new file), and run a block clock
that makes a block every ``block_seconds`` (0: blocks only on ``POST /local/blocks``, for tests that must
control heights). uvicorn runs with the v3 stand-in's protocol subclass, which lets fault injection drop a
connection without any answer.
"""

from __future__ import annotations

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

from dydx_airgap.online.rehearsal.v3_api.server import DroppableH11Protocol
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.errors import InputError

from .app import create_app
from .chain import Chain, Clock, now_ms
from .faults import V4FaultPlan
from .state import ChainState

DEFAULT_PORT = 1317
DEFAULT_BLOCK_SECONDS = 1.0
Genesis = Callable[[ChainState], ChainState]


class BlockClock:
    def __init__(self, chain: Chain, seconds: float) -> None:
        self.chain, self.seconds = chain, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="v4-block-clock", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self.chain.make_block()

    def start(self) -> None:
        if self.seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppableH11Protocol,
        lifespan="off",
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        timeout_graceful_shutdown=2,
    )


def serve(
    *,
    network: V4Network,
    db: Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    genesis: Genesis | None = None,
    faults: V4FaultPlan | None = None,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    log_level: str = "info",
) -> None:
    chain = Chain.open(db, network, genesis, now_ms)
    clock = BlockClock(chain, block_seconds)
    try:
        print(f"local dYdX Chain stand-in ({network.chain_id}) on http://{host}:{port}", flush=True)
        print(f"database: {db.resolve()}; height {chain.committed.height}", flush=True)
        if faults is not None:
            print("FAULT INJECTION IS ON: this node misbehaves on purpose", file=sys.stderr, flush=True)
        clock.start()
        uvicorn.Server(_config(create_app(chain, faults=faults), host, port, log_level)).run()
    finally:
        clock.stop()
        chain.close()


@dataclass
class V4NodeHandle:
    url: str
    chain: Chain
    db_path: Path
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _clock: BlockClock = field(repr=False)
    _cleanup: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        self._clock.stop()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.chain.close()
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def __enter__(self) -> V4NodeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_v4_node(
    network: V4Network,
    *,
    db: Path | None = None,
    genesis: Genesis | None = None,
    faults: V4FaultPlan | None = None,
    block_seconds: float = 0.0,
    clock: Clock = now_ms,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> V4NodeHandle:
    """Start the node in a background thread on a free port and wait until it listens."""
    cleanup: Callable[[], None] | None = None
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="dydx-v4-chain-")
        db, cleanup = Path(tmp.name) / "v4-chain.sqlite3", tmp.cleanup
    chain = Chain.open(db, network, genesis, clock)
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        chain.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound = sock.getsockname()[1]
    server = uvicorn.Server(_config(create_app(chain, faults=faults), host, bound, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"v4-chain:{bound}", daemon=True
    )
    thread.start()
    block_clock = BlockClock(chain, block_seconds)
    handle = V4NodeHandle(f"http://{host}:{bound}", chain, db, server, thread, block_clock, cleanup)
    deadline = time.monotonic() + 10
    while thread.is_alive() and not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        handle.stop()
        raise RuntimeError("the local v4 chain did not start")
    block_clock.start()
    return handle
