"""Put a running local chain into escape mode the way dYdX's StarkPerpetual got there.

The steps are mainnet's, sent from the deployer key (governor and operator of the stand-ins):

1. ``update_state``: the positions are read from the chain's own ``LogDeposit`` events (STARK key,
   position id, the deposit still pending), optionally joined by generated multi-asset positions with
   negative funding; an ``updateState`` whose program output accepts the deposits and carries the new
   shared state is sent, so a relay can cross-check the explorer's state against that transaction's
   calldata (spec escape-hatch.md §A6). The state update may be repeated (deposits made after one are
   pending until the next, or for ever).
2. ``freeze``: the freezer's own registered key asks for a forced withdrawal that no state update ever
   services, block time moves past ``FREEZE_GRACE_PERIOD``, and ``freezeRequest`` freezes the contract.

``install_mainnet_fixture`` does the same with the real position-1 state of the mainnet vector: its STARK
key registered to the real Ethereum address, the contract funded with what the escape pays.

The freezer's keys are derived from public strings, like the deployer's: they guard nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import coincurve

from dydx_airgap.online.rehearsal.escape import calls
from dydx_airgap.online.rehearsal.escape.fixtures import (
    EscapeState,
    SyntheticMarket,
    build_escape_state,
    mainnet_position_1,
    synthetic_market,
    synthetic_positions,
    synthetic_stark_key,
)
from dydx_airgap.online.rehearsal.escape.leaf import POSITION_ID_BOUND, Position
from dydx_airgap.online.rehearsal.escape.program_output import (
    Modification,
    application_data,
    program_output,
)
from dydx_airgap.online.rehearsal.evm import LocalChain
from dydx_airgap.online.rehearsal.evm.deploy import DEPLOYER_ADDRESS, DEPLOYER_PRIVATE_KEY
from dydx_airgap.online.rehearsal.evm.node import LogFilter, RpcError
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.ethereum.address import parse_address, to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.stark.constants import EC_ORDER
from dydx_airgap.shared.stark.keys import private_to_stark_key

FREEZER_STARK_KEY = private_to_stark_key(
    1
    + int.from_bytes(keccak256(b"dydx-airgap local chain freezer: public, worthless"), "big") % (EC_ORDER - 1)
)
#: The freezer's forced withdrawal names a position no deposit or generated position uses.
FREEZER_POSITION_ID = POSITION_ID_BOUND - 1
FREEZER_AMOUNT = 1
#: A state update's batch expires a week after it is sent (hours since the epoch, as StarkEx counts).
EXPIRATION_HOURS = 7 * 24
MAX_SYNTHETIC_POSITIONS = 32
LOG_DEPOSIT = keccak256(b"LogDeposit(address,uint256,uint256,uint256,uint256,uint256)")


@dataclass(frozen=True)
class StateUpdate:
    """The last ``updateState`` the rehearsal sent: where it is and exactly what it carried."""

    tx_hash: bytes
    block_number: int
    batch_id: int
    program_output: tuple[int, ...]
    application_data: tuple[int, ...]


@dataclass(frozen=True)
class EscapeBook:
    """What the explorer stand-in serves: the committed state, each position's proof, how it got there."""

    state: EscapeState
    update: StateUpdate | None = None
    freeze_tx: bytes | None = None
    market: SyntheticMarket | None = None
    #: Generated positions' ids (their collateral was minted to the contract, not deposited).
    synthetic_ids: frozenset[int] = field(default_factory=frozenset)


EMPTY_BOOK = EscapeBook(state=EscapeState(shared_state=(), proofs={}, positions={}, withdrawals={}))


def registration_signature(eth_key: str, stark_key: int) -> bytes:
    """The deployer's (an extra user admin's) "UserRegistration:" signature: r ‖ s ‖ v (v = 27/28)."""
    digest = keccak256(b"UserRegistration:" + parse_address(eth_key) + stark_key.to_bytes(32, "big"))
    compact = coincurve.PrivateKey(DEPLOYER_PRIVATE_KEY).sign_recoverable(digest, hasher=None)
    return compact[:64] + bytes([compact[64] + 27])


class Freezer:
    """Drives one chain's stand-ins into escape mode; keeps the book the explorer serves.

    Thread-safe: the JSON-RPC server is threaded and a freeze is several transactions in a row.
    """

    def __init__(self, chain: LocalChain) -> None:
        self._chain = chain
        self._lock = threading.RLock()
        self.book = EMPTY_BOOK

    # --- chain reads ----------------------------------------------------------------------------------

    @property
    def _perpetual(self) -> str:
        return self._chain.deployment.stark_perpetual.address

    def _view(self, signature: str, *arguments: calls.Argument) -> int:
        return int.from_bytes(self._chain.call(self._perpetual, calls.view(signature, *arguments)), "big")

    def is_frozen(self) -> bool:
        return self._view("isFrozen()") == 1

    def registered_address(self, stark_key: int) -> str | None:
        """``getEthKey(starkKey)``, or None where it reverts USER_UNREGISTERED."""
        try:
            word = self._chain.call(self._perpetual, calls.view("getEthKey(uint256)", stark_key))
        except RpcError:
            return None
        return to_checksum_address(word[12:32])

    def deposited_positions(self) -> dict[tuple[int, int], int]:
        """(STARK key, position id) of every LogDeposit → the amount still pending in the contract."""
        node = self._chain.node
        entries = node.logs(
            LogFilter(0, node.block_number(), (parse_address(self._perpetual),), ((LOG_DEPOSIT,),))
        )
        asset = self._chain.deployment.collateral_asset_id
        pending: dict[tuple[int, int], int] = {}
        for entry in entries:
            stark_key = int.from_bytes(entry.data[32:64], "big")
            position_id = int.from_bytes(entry.data[64:96], "big")
            if (stark_key, position_id) not in pending:
                pending[(stark_key, position_id)] = self._view(
                    "getQuantizedDepositBalance(uint256,uint256,uint256)", stark_key, asset, position_id
                )
        return pending

    # --- steps ----------------------------------------------------------------------------------------

    def _ensure_admin(self) -> None:
        if self._view("isUserAdmin(address)", DEPLOYER_ADDRESS) != 1:
            self._chain.send_as_deployer(self._perpetual, calls.register_user_admin(DEPLOYER_ADDRESS))

    def register(self, eth_key: str, stark_key: int) -> str:
        """Register ``stark_key`` to ``eth_key`` unless it is registered; returns its registered address."""
        existing = self.registered_address(stark_key)
        if existing is not None:
            return existing
        self._ensure_admin()
        signature = registration_signature(eth_key, stark_key)
        self._chain.send_as_deployer(self._perpetual, calls.register_user(eth_key, stark_key, signature))
        return to_checksum_address(parse_address(eth_key))

    def update_state(
        self, *, synthetic: int = 0, synthetic_owner: str | None = None, seed: bytes = b"rehearsal"
    ) -> EscapeBook:
        """Send one ``updateState``: pending deposits accepted, ``synthetic`` generated positions added.

        Generated positions are added once (a later update keeps them) and registered to
        ``synthetic_owner`` (default: the deployer); their escape amounts are minted to the contract.
        """
        if not 0 <= synthetic <= MAX_SYNTHETIC_POSITIONS:
            raise InputError(f"generate 0 to {MAX_SYNTHETIC_POSITIONS} synthetic positions")
        with self._lock:
            if self.is_frozen():
                raise InputError("the local exchange is frozen: no state update is possible any more")
            book = self.book
            positions: dict[int, Position] = dict(book.state.positions)
            modifications: list[Modification] = []
            for (stark_key, position_id), pending in self.deposited_positions().items():
                held = positions.get(position_id)
                if pending == 0 or position_id == FREEZER_POSITION_ID:
                    continue
                if held is not None and held.stark_key != stark_key:
                    continue  # a deposit into someone else's position id: an exchange leaves it pending
                collateral = pending + (held.collateral if held is not None else 0)
                assets = held.assets if held is not None else ()
                positions[position_id] = Position(position_id, stark_key, collateral, assets)
                modifications.append(Modification(stark_key, position_id, pending))

            market, synthetic_ids = book.market, set(book.synthetic_ids)
            minted = 0
            if synthetic and not synthetic_ids:
                market = synthetic_market(seed)
                first_id = max((pid for pid in positions if pid < FREEZER_POSITION_ID), default=0) + 1
                keys = [synthetic_stark_key(seed, index) for index in range(synthetic)]
                owner = synthetic_owner or DEPLOYER_ADDRESS
                for generated in synthetic_positions(seed, market, keys, first_id):
                    self.register(owner, generated.stark_key)
                    positions[generated.position_id] = generated
                    synthetic_ids.add(generated.position_id)

            now = self._chain.latest_timestamp()
            funding = dict(market.funding) if market is not None else {}
            prices = dict(market.prices) if market is not None else {}
            state = build_escape_state(list(positions.values()), funding, prices, funding_timestamp=now)
            for position_id in synthetic_ids - set(book.synthetic_ids):
                minted += max(state.withdrawals[position_id], 0)
            if minted:
                usdc = self._chain.deployment.usdc.address
                self._chain.send_as_deployer(usdc, calls.mint(self._perpetual, minted))
            self.book = self._send_update(book, state, modifications, market, frozenset(synthetic_ids))
            return self.book

    def _send_update(
        self,
        book: EscapeBook,
        state: EscapeState,
        modifications: list[Modification],
        market: SyntheticMarket | None,
        synthetic_ids: frozenset[int],
    ) -> EscapeBook:
        now = self._chain.latest_timestamp()
        output = program_output(
            book.state.shared_state,
            state.shared_state,
            expiration_hours=now // 3600 + EXPIRATION_HOURS,
            modifications=modifications,
        )
        previous_batch = self._view("getLastBatchId()")
        data = application_data(previous_batch + 1, previous_batch)
        record = self._chain.send_as_deployer(self._perpetual, calls.update_state(output, data))
        update = StateUpdate(
            tx_hash=record.hash,
            block_number=record.block_number or 0,
            batch_id=previous_batch + 1,
            program_output=output,
            application_data=data,
        )
        return EscapeBook(state=state, update=update, market=market, synthetic_ids=synthetic_ids)

    def freeze(self) -> EscapeBook:
        """forcedWithdrawalRequest by the freezer's key → FREEZE_GRACE_PERIOD passes → freezeRequest."""
        with self._lock:
            if self.is_frozen():
                raise InputError("the local exchange is frozen already")
            self.register(DEPLOYER_ADDRESS, FREEZER_STARK_KEY)
            request = (FREEZER_STARK_KEY, FREEZER_POSITION_ID, FREEZER_AMOUNT)
            if self._view("getForcedWithdrawalRequest(uint256,uint256,uint256)", *request) == 0:
                self._chain.send_as_deployer(self._perpetual, calls.forced_withdrawal_request(*request))
            grace = self._view("FREEZE_GRACE_PERIOD()")
            self._chain.increase_time(grace + 1)
            record = self._chain.send_as_deployer(self._perpetual, calls.freeze_request(*request))
            self.book = replace(self.book, freeze_tx=record.hash)
            return self.book

    def install_mainnet_fixture(self) -> EscapeBook:
        """The real position-1 state, its key registered to the real address, funded, then frozen."""
        vector = mainnet_position_1()
        with self._lock:
            if self.book.update is not None or self.is_frozen():
                raise InputError("the mainnet fixture needs a chain that has had no state update")
            self.register(vector.ethereum_address, vector.stark_key)
            usdc = self._chain.deployment.usdc.address
            self._chain.send_as_deployer(usdc, calls.mint(self._perpetual, vector.expected_withdrawal))
            self.book = self._send_update(self.book, vector.escape_state(), [], None, frozenset())
            return self.freeze()


def book_summary(book: EscapeBook, owners: Mapping[int, str | None]) -> dict[str, object]:
    """The JSON the rehearsal's RPC methods answer: state hash, transactions, positions."""
    state = book.state
    return {
        "sharedStateHash": "0x" + state.state_hash.hex() if state.shared_state else None,
        "updateStateTx": "0x" + book.update.tx_hash.hex() if book.update else None,
        "batchId": book.update.batch_id if book.update else None,
        "freezeTx": "0x" + book.freeze_tx.hex() if book.freeze_tx else None,
        "positions": [
            {
                "positionId": str(position_id),
                "starkKey": f"0x{position.stark_key:064x}",
                "owner": owners.get(position_id),
                "nAssets": position.n_assets,
                "withdrawal": str(state.withdrawals[position_id]),
                "synthetic": position_id in book.synthetic_ids,
            }
            for position_id, position in sorted(state.positions.items())
        ],
    }
