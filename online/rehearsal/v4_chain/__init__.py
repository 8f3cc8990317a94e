"""A local stand-in for a dYdX Chain (v4) node's REST API, that verifies transactions like the chain.

Endpoints (spec dydx-v4.md §B6; proto3 JSON, uint64 as strings):

=====================================================================  =====================================
``POST /cosmos/tx/v1beta1/txs`` ``{tx_bytes, mode}``                    SYNC: CheckTx answer ``tx_response``
``POST /cosmos/tx/v1beta1/simulate`` ``{tx_bytes}``                     ``gas_info.gas_used``
``GET /cosmos/tx/v1beta1/txs/{hash}``                                   the block result (404 until included)
``GET /cosmos/auth/v1beta1/accounts/{address}``                         BaseAccount (404 before first funds)
``GET /cosmos/bank/v1beta1/balances/{address}``                         bank coins
``GET /cosmos/base/tendermint/v1beta1/blocks/latest``                   height, time, chain id
``GET /dydxprotocol/subaccounts/subaccount/{owner}/{number}``           USDC asset position
``GET /dydxprotocol/accountplus/authenticators/{account}``              ``account_authenticators[]``
``GET /dydxprotocol/accountplus/authenticator/{account}/{id}``          one authenticator
``GET /dydxprotocol/accountplus/params``                                ``is_smart_account_active``
``GET /dydxprotocol/accountplus/account_state/{address}``               timestamp nonces
``POST /local/blocks`` ``{count}``, ``POST /local/faucet``,             control and inspection, not the
``GET /local/orders``, ``GET /local/stats``                             chain's
=====================================================================  =====================================

What it checks, and with which code: see ``ante.py`` (CheckTx) and ``execute.py`` (messages in a block).
What it cannot rehearse (spec "Local rehearsal"): real gas and fee markets, CLOB matching, withdrawal
gating, IBC. Fault injection (``faults.py``) is off unless a plan is given.
"""

from __future__ import annotations

from dydx_airgap.online.rehearsal.v4_chain.chain import Chain
from dydx_airgap.online.rehearsal.v4_chain.faults import V4Fault, V4FaultPlan, parse_fault_spec
from dydx_airgap.online.rehearsal.v4_chain.genesis import apply_genesis, load_genesis
from dydx_airgap.online.rehearsal.v4_chain.server import DEFAULT_PORT, V4NodeHandle, serve, start_v4_node
from dydx_airgap.online.rehearsal.v4_chain.state import ChainState

__all__ = [
    "DEFAULT_PORT",
    "Chain",
    "ChainState",
    "V4Fault",
    "V4FaultPlan",
    "V4NodeHandle",
    "apply_genesis",
    "load_genesis",
    "parse_fault_spec",
    "serve",
    "start_v4_node",
]
