"""``python -m dydx_airgap.online.chain``: run the local rehearsal chain until interrupted.

Prints the JSON-RPC URL once the stand-ins are deployed; with ``--deployment-out`` it also writes the
deployment JSON (atomically, so a script can wait for the file to appear and then read it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from dydx_airgap.shared.errors import AirgapError

from . import DEFAULT_CHAIN_ID, start_local_chain
from .deploy import FundSpec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dydx_airgap.online.chain",
        description="Local Ethereum chain (py-evm) with stand-in USDC and StarkPerpetual, for rehearsals.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8545, help="TCP port, 0 for any free one (default 8545)")
    parser.add_argument(
        "--chain-id", type=int, default=DEFAULT_CHAIN_ID, help=f"chain id (default {DEFAULT_CHAIN_ID})"
    )
    parser.add_argument(
        "--operator",
        required=True,
        help="address whose signatures registerUser accepts (the local dYdX API's registration signer)",
    )
    parser.add_argument(
        "--fund",
        action="append",
        default=[],
        metavar="ADDRESS[:ETH[:USDC]]",
        help="give an account ETH and stand-in USDC (default 10 ETH, 100000 USDC); repeatable",
    )
    parser.add_argument("--deployment-out", type=Path, help="write the deployment JSON to this file")
    parser.add_argument(
        "--no-automine",
        action="store_true",
        help="keep transactions pending until an evm_mine request (default: mine each one at once)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="compiled-contract cache (default ~/.cache/dydx-airgap)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not 0 <= args.port <= 65535:
            raise AirgapError("--port must be between 0 and 65535")
        if not 0 < args.chain_id < 2**64:
            raise AirgapError("--chain-id must be between 1 and 2^64 - 1")
        specs = [FundSpec.parse(text) for text in args.fund]
        chain = start_local_chain(
            operator=args.operator,
            chain_id=args.chain_id,
            fund=specs,
            host=args.host,
            port=args.port,
            deployment_out=args.deployment_out,
            automine=not args.no_automine,
            cache_dir=args.cache_dir,
        )
    except AirgapError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the local chain: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    deployment = chain.deployment
    print(f"local chain {deployment.chain_id} on {chain.url}", flush=True)
    print(f"  StarkPerpetual {deployment.stark_perpetual.address}", flush=True)
    print(f"  USDC (local)   {deployment.usdc.address}", flush=True)
    print(f"  operator       {deployment.operator}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        chain.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
