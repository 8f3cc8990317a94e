"""A single-process Ethereum node for rehearsals and tests: py-evm state, a small transaction pool, blocks.

Only what the relay needs is modelled, but what is modelled behaves like a real node (geth): transactions
arrive as raw signed bytes, are checked in the same order and refused with the same messages ("nonce too
low", "already known", "replacement transaction underpriced", "insufficient funds for gas * price +
value", ...), future nonces wait in the pool, and blocks carry EIP-1559 base fees and receipts with logs.
Like mainnet, it takes legacy (type 0, EIP-155 replay-protected, as geth requires over RPC), EIP-2930
(type 1) and EIP-1559 (type 2) transactions: dYdX's own client sends legacy ones. Our cold signer only ever
makes type 2, which is decoded by the project's strict decoder; the older types are decoded by py-evm.

By default every accepted transaction is mined at once (automine); with ``automine=False`` transactions
stay pending until ``mine()`` is called, which lets tests observe a broadcast that has no receipt yet.
Block time is the wall clock plus an offset that only grows (``increase_time``, the ``evm_increaseTime``
of development nodes), so rehearsals can pass the StarkPerpetual's 14-day freeze grace and 7-day deposit
delay in a second. The VM is py-evm's Prague with one extra precompile, StarkWare's Pedersen hash
(``pedersen_precompile.py``), which the escape-verifier stand-in calls.

Everything here runs under one lock: py-evm is not thread-safe and the JSON-RPC server is threaded.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import rlp as pyrlp
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert, VMError
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth.vm.spoof import SpoofTransaction
from eth_utils.exceptions import ValidationError
from rlp.exceptions import RLPException

from dydx_airgap.online.rehearsal.evm.pedersen_precompile import LOCAL_PRECOMPILES
from dydx_airgap.shared.errors import FormatError, SignatureError
from dydx_airgap.shared.ethereum import rlp
from dydx_airgap.shared.ethereum.address import to_checksum_address
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction

DEFAULT_GAS_LIMIT = 30_000_000
DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei, what geth suggests on a quiet network
# geth's default: a replacement must raise both fee caps by at least 10 %.
REPLACEMENT_BUMP_PERCENT = 10
# How far ahead of the account nonce a transaction may wait in the pool.
MAX_NONCE_GAP = 64
ZERO_ADDRESS = bytes(20)

# JSON-RPC error codes as geth uses them.
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
EXECUTION_REVERTED = 3

# Error(string) — the ABI of a Solidity/Vyper revert reason.
_ERROR_STRING_SELECTOR = keccak256(b"Error(string)")[:4]


class RpcError(Exception):
    """An error the JSON-RPC layer returns as ``{"code", "message", "data"}``."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True)
class LogEntry:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    transaction_hash: bytes
    transaction_index: int
    log_index: int


#: The transaction types a post-London mainnet node accepts from ``eth_sendRawTransaction`` and we model.
LEGACY, ACCESS_LIST, DYNAMIC_FEE = 0, 1, 2


@dataclass(frozen=True)
class PooledTransaction:
    """What the pool and the RPC answers need of a signed transaction, whatever its type.

    A legacy or EIP-2930 ``gasPrice`` is both fee caps (that is how nodes price them after London); ``v``
    is the yParity of a typed transaction and the EIP-155 ``v`` of a legacy one.
    """

    tx_type: int
    chain_id: int
    nonce: int
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    to: bytes | None
    value: int
    data: bytes
    access_list: tuple[tuple[bytes, tuple[bytes, ...]], ...]
    v: int
    r: int
    s: int
    hash: bytes
    sender: bytes


def decode_pooled_transaction(raw: bytes, builder: Any) -> tuple[PooledTransaction, Any]:
    """Decode and signature-check raw transaction bytes; returns our view and py-evm's transaction.

    Raises ``RpcError`` with a node's wording for what a node refuses at the door.
    """
    older = raw[:1] == bytes([ACCESS_LIST]) or (raw[:1] != b"" and raw[0] >= 0xC0)
    if raw[:1] in (b"\x03", b"\x04"):  # blob and set-code transactions: valid on mainnet, not modelled here
        raise RpcError(SERVER_ERROR, "transaction type not supported")
    if not older:  # type 2, or bytes the project's strict decoder refuses with its own reason
        try:
            signed = decode_signed_transaction(raw)
        except (FormatError, SignatureError) as exc:
            raise RpcError(SERVER_ERROR, f"invalid transaction: {exc}") from None
        tx = signed.transaction
        pooled = PooledTransaction(
            tx_type=DYNAMIC_FEE,
            chain_id=tx.chain_id,
            nonce=tx.nonce,
            gas_limit=tx.gas_limit,
            max_fee_per_gas=tx.max_fee_per_gas,
            max_priority_fee_per_gas=tx.max_priority_fee_per_gas,
            to=tx.to,
            value=tx.value,
            data=tx.data,
            access_list=tuple((e.address, tuple(e.storage_keys)) for e in tx.access_list),
            v=signed.y_parity,
            r=signed.r,
            s=signed.s,
            hash=signed.tx_hash,
            sender=signed.sender,
        )
        try:
            return pooled, builder.decode(raw)
        except (ValidationError, ValueError, RLPException) as exc:
            raise RpcError(SERVER_ERROR, f"invalid transaction: {exc}") from None
    # A typed transaction starts with its type byte; a legacy one is an RLP list (first byte >= 0xc0).
    try:
        evm_tx = builder.decode(raw)
        evm_tx.validate()  # field ranges, EIP-2 low s
        evm_tx.check_signature_validity()
        sender = bytes(evm_tx.sender)
    except (ValidationError, ValueError, RLPException) as exc:
        raise RpcError(SERVER_ERROR, f"invalid transaction: {exc}") from None
    tx_type = LEGACY if raw[0] >= 0xC0 else ACCESS_LIST
    chain_id = evm_tx.chain_id
    if chain_id is None:
        # geth's default (--rpc.allow-unprotected-txs off): a pre-EIP-155 signature replays on any chain.
        raise RpcError(SERVER_ERROR, "only replay-protected (EIP-155) transactions allowed over RPC")
    pooled = PooledTransaction(
        tx_type=tx_type,
        chain_id=int(chain_id),
        nonce=int(evm_tx.nonce),
        gas_limit=int(evm_tx.gas),
        max_fee_per_gas=int(evm_tx.gas_price),
        max_priority_fee_per_gas=int(evm_tx.gas_price),
        to=bytes(evm_tx.to) or None,
        value=int(evm_tx.value),
        data=bytes(evm_tx.data),
        access_list=tuple(
            (bytes(entry[0]), tuple(int(k).to_bytes(32, "big") for k in entry[1]))
            for entry in evm_tx.access_list
        ),
        v=int(evm_tx.v) if tx_type == LEGACY else int(evm_tx.y_parity),
        r=int(evm_tx.r),
        s=int(evm_tx.s),
        hash=bytes(evm_tx.hash),
        sender=sender,
    )
    return pooled, evm_tx


@dataclass
class TransactionRecord:
    """A transaction the node knows: pending (no block yet) or mined with its receipt."""

    signed: PooledTransaction
    hash: bytes
    sender: bytes
    arrival: int
    block_number: int | None = None
    block_hash: bytes | None = None
    index: int | None = None
    status: int | None = None
    gas_used: int | None = None
    cumulative_gas_used: int | None = None
    effective_gas_price: int | None = None
    contract_address: bytes | None = None
    logs: tuple[LogEntry, ...] = ()
    logs_bloom: int = 0

    @property
    def mined(self) -> bool:
        return self.block_number is not None


@dataclass
class BlockRecord:
    number: int
    hash: bytes
    header: Any  # py-evm's BlockHeaderAPI
    size: int  # bytes of the RLP-encoded block, as eth_getBlockByNumber reports it
    transaction_hashes: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class CallRequest:
    """The transaction-like object of eth_call / eth_estimateGas (all fields optional on the wire)."""

    sender: bytes = ZERO_ADDRESS
    to: bytes | None = None
    gas: int | None = None
    value: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class LogFilter:
    from_block: int
    to_block: int
    addresses: tuple[bytes, ...] = ()
    # One entry per topic position: None matches anything, otherwise any of the given values.
    topics: tuple[tuple[bytes, ...] | None, ...] = ()


class _LocalComputation(PragueComputation):
    # Prague's precompiles plus the Pedersen hash; py-evm's own PragueComputation is left as it is.
    _precompiles = LOCAL_PRECOMPILES


class _LocalState(PragueState):
    computation_class = _LocalComputation


class LocalPragueVM(PragueVM):
    """Prague, with the local chain's Pedersen precompile."""

    _state_class = _LocalState


class _LocalMiningChain(MiningChain):
    #: Seconds added to the wall clock for block timestamps (``LocalNode.increase_time``).
    time_offset = 0

    def local_timestamp(self, parent_header: Any) -> int:
        return max(int(parent_header.timestamp) + 1, int(time.time()) + self.time_offset)

    def create_header_from_parent(self, parent_header: Any, **header_params: Any) -> Any:
        # Keep the gas limit fixed; py-evm would otherwise drift it like a PoW miner vote.
        header_params.setdefault("gas_limit", parent_header.gas_limit)
        header_params.setdefault("timestamp", self.local_timestamp(parent_header))
        return super().create_header_from_parent(parent_header, **header_params)


class LocalNode:
    """The chain and its pool. Methods raise ``RpcError`` for anything a client did wrong."""

    def __init__(
        self,
        chain_id: int,
        genesis_balances: dict[bytes, int],
        *,
        automine: bool = True,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        priority_fee: int = DEFAULT_PRIORITY_FEE,
        genesis_timestamp: int | None = None,
    ) -> None:
        if not 0 < chain_id < 2**64:
            raise ValueError("chain id must be between 1 and 2^64 - 1")
        self.chain_id = chain_id
        self.automine = automine
        self.priority_fee = priority_fee
        self._lock = threading.RLock()
        self._arrivals = itertools.count()
        chain_class: Any = _LocalMiningChain.configure(
            __name__="DydxAirgapLocalChain", chain_id=chain_id, vm_configuration=((0, LocalPragueVM),)
        )
        genesis_params: dict[str, Any] = {
            "coinbase": ZERO_ADDRESS,
            "difficulty": 0,  # post-merge
            "gas_limit": gas_limit,
            "extra_data": b"dydx-airgap local",
            "nonce": bytes(8),
            "mix_hash": bytes(32),
        }
        if genesis_timestamp is not None:
            genesis_params["timestamp"] = genesis_timestamp
        state = {
            address: {"balance": balance, "nonce": 0, "code": b"", "storage": {}}
            for address, balance in genesis_balances.items()
        }
        # py-evm's annotations describe its abstract APIs, not MiningChain; treat the chain as dynamic.
        self._chain: Any = chain_class.from_genesis(AtomicDB(), genesis_params, state)
        genesis = self._chain.get_canonical_block_by_number(0)
        self._blocks: list[BlockRecord] = [
            BlockRecord(0, genesis.hash, genesis.header, len(pyrlp.encode(genesis)))
        ]
        self._block_numbers: dict[bytes, int] = {genesis.hash: 0}
        self._transactions: dict[bytes, TransactionRecord] = {}
        self._pool: dict[bytes, dict[int, TransactionRecord]] = {}
        # py-evm's own decoding of each pooled transaction, applied when it is mined.
        self._evm_transactions: dict[bytes, Any] = {}
        self._logs: list[LogEntry] = []

    # --- blocks and state ------------------------------------------------------------------------------

    def block_number(self) -> int:
        with self._lock:
            return len(self._blocks) - 1

    def block(self, number: int) -> BlockRecord | None:
        with self._lock:
            return self._blocks[number] if 0 <= number < len(self._blocks) else None

    def block_by_hash(self, block_hash: bytes) -> BlockRecord | None:
        with self._lock:
            number = self._block_numbers.get(block_hash)
            return None if number is None else self._blocks[number]

    def next_base_fee(self) -> int:
        """Base fee of the block being built: what a transaction must at least offer now."""
        with self._lock:
            return int(self._chain.header.base_fee_per_gas)

    def _state_at(self, number: int) -> Any:
        return self._chain.get_vm(at_header=self._blocks[number].header).state

    def balance(self, address: bytes, number: int) -> int:
        with self._lock:
            return int(self._state_at(number).get_balance(address))

    def code(self, address: bytes, number: int) -> bytes:
        with self._lock:
            return bytes(self._state_at(number).get_code(address))

    def storage_at(self, address: bytes, slot: int, number: int) -> int:
        with self._lock:
            return int(self._state_at(number).get_storage(address, slot))

    def nonce(self, address: bytes, number: int | None) -> int:
        """Account nonce at block ``number``; ``None`` means "pending": it counts pooled successors."""
        with self._lock:
            if number is not None:
                return int(self._state_at(number).get_nonce(address))
            nonce = int(self._state_at(self.block_number()).get_nonce(address))
            queued = self._pool.get(address, {})
            while nonce in queued:
                nonce += 1
            return nonce

    # --- transactions ----------------------------------------------------------------------------------

    def transaction(self, tx_hash: bytes) -> TransactionRecord | None:
        with self._lock:
            return self._transactions.get(tx_hash)

    def send_raw_transaction(self, raw: bytes) -> bytes:
        """Check and pool a signed transaction (type 0, 1 or 2), then mine if automining. Returns its hash."""
        with self._lock:
            tx, evm_tx = decode_pooled_transaction(raw, self._chain.get_vm().get_transaction_builder())
            tx_hash = tx.hash
            known = self._transactions.get(tx_hash)
            if known is not None and not known.mined:
                raise RpcError(SERVER_ERROR, "already known")
            # A mined transaction is no longer in the pool: like geth, its replay fails the nonce check
            # below ("nonce too low"); the relay must then look its hash up rather than assume failure.
            if tx.chain_id != self.chain_id:
                raise RpcError(
                    SERVER_ERROR, f"invalid chain id for signer: have {tx.chain_id} want {self.chain_id}"
                )
            sender = tx.sender
            who = to_checksum_address(sender)
            state = self._state_at(self.block_number())
            state_nonce = int(state.get_nonce(sender))
            if tx.nonce < state_nonce:
                raise RpcError(
                    SERVER_ERROR, f"nonce too low: address {who}, tx: {tx.nonce} state: {state_nonce}"
                )
            if tx.nonce > self.nonce(sender, None) + MAX_NONCE_GAP:
                raise RpcError(
                    SERVER_ERROR,
                    f"nonce too high: address {who}, tx: {tx.nonce} state: {state_nonce} "
                    f"(at most {MAX_NONCE_GAP} transactions may wait ahead)",
                )
            if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
                raise RpcError(
                    SERVER_ERROR,
                    f"max priority fee per gas higher than max fee per gas: address {who}, "
                    f"maxPriorityFeePerGas: {tx.max_priority_fee_per_gas}, "
                    f"maxFeePerGas: {tx.max_fee_per_gas}",
                )
            intrinsic = int(evm_tx.intrinsic_gas)
            if tx.gas_limit < intrinsic:
                raise RpcError(SERVER_ERROR, f"intrinsic gas too low: have {tx.gas_limit}, want {intrinsic}")
            if tx.gas_limit > self._chain.header.gas_limit:
                raise RpcError(SERVER_ERROR, "exceeds block gas limit")
            base_fee = self.next_base_fee()
            if tx.max_fee_per_gas < base_fee:
                raise RpcError(
                    SERVER_ERROR,
                    f"max fee per gas less than block base fee: address {who}, "
                    f"maxFeePerGas: {tx.max_fee_per_gas}, baseFee: {base_fee}",
                )
            balance = int(state.get_balance(sender))
            cost = tx.gas_limit * tx.max_fee_per_gas + tx.value
            if balance < cost:
                raise RpcError(
                    SERVER_ERROR,
                    f"insufficient funds for gas * price + value: address {who} have {balance} want {cost}",
                )
            queued = self._pool.setdefault(sender, {})
            previous = queued.get(tx.nonce)
            if previous is not None:
                old = previous.signed
                if not (
                    _bumped(old.max_fee_per_gas, tx.max_fee_per_gas)
                    and _bumped(old.max_priority_fee_per_gas, tx.max_priority_fee_per_gas)
                ):
                    raise RpcError(SERVER_ERROR, "replacement transaction underpriced")
                self._forget(previous)
            record = TransactionRecord(signed=tx, hash=tx_hash, sender=sender, arrival=next(self._arrivals))
            queued[tx.nonce] = record
            self._transactions[tx_hash] = record
            self._evm_transactions[tx_hash] = evm_tx
            if self.automine:
                self._mine_pending(force=False)
            return tx_hash

    def mine(self, count: int = 1) -> list[BlockRecord]:
        """Mine ``count`` blocks; the first takes every executable pooled transaction."""
        with self._lock:
            mined = self._mine_pending(force=True)
            while len(mined) < count:
                mined.append(self._seal_block([]))
            return mined

    def increase_time(self, seconds: int) -> int:
        """Move block time ``seconds`` ahead for every later block; returns the total offset.

        Time never goes back (a block timestamp must exceed its parent's). The block being built takes
        the new time at once, so the next transaction, or ``mine()``, already sees it; ``eth_call`` and
        ``eth_estimateGas`` run on the latest mined block, as on a real node, so mine once to read it.
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            # "Now" on the chain is the later of the shifted wall clock and the latest block: blocks mined
            # in quick succession run ahead of the clock (each is at least a second after its parent).
            wall = int(time.time())
            current = max(wall + self._chain.time_offset, int(self._blocks[-1].header.timestamp))
            self._chain.time_offset = current + seconds - wall
            self._refresh_pending_timestamp()
            return int(self._chain.time_offset)

    @property
    def time_offset(self) -> int:
        with self._lock:
            return int(self._chain.time_offset)

    def _refresh_pending_timestamp(self) -> None:
        # The block being built is empty whenever no _mine_pending call is running (every applied
        # transaction is sealed before it returns), so its timestamp may still be chosen freely.
        self._chain.set_header_timestamp(self._chain.local_timestamp(self._blocks[-1].header))

    def pending_transactions(self) -> list[TransactionRecord]:
        with self._lock:
            return sorted(
                (record for queued in self._pool.values() for record in queued.values()),
                key=lambda record: record.arrival,
            )

    def _mine_pending(self, *, force: bool) -> list[BlockRecord]:
        """Apply executable pooled transactions in arrival order, sealing a block whenever one fills."""
        blocks: list[BlockRecord] = []
        applied: list[tuple[TransactionRecord, Any, Any]] = []
        # The block's time is when it is built (the wall clock plus the offset), not when its parent was.
        self._refresh_pending_timestamp()
        while True:
            record = self._next_executable()
            if record is None:
                break
            header = self._chain.header
            if header.gas_used + record.signed.gas_limit > header.gas_limit:
                blocks.append(self._seal_block(applied))
                applied = []
                continue
            evm_tx = self._evm_transactions[record.hash]
            del self._pool[record.sender][record.signed.nonce]
            try:
                _block, receipt, computation = self._chain.apply_transaction(evm_tx)
            except ValidationError:
                # The state moved since the transaction was accepted (e.g. its funds were spent by an
                # earlier one): a real pool would drop it too.
                self._forget(record)
                continue
            applied.append((record, receipt, computation))
        if applied or (force and not blocks):
            blocks.append(self._seal_block(applied))
        return blocks

    def _next_executable(self) -> TransactionRecord | None:
        candidates = []
        state = self._chain.get_vm().state
        for sender, queued in self._pool.items():
            record = queued.get(int(state.get_nonce(sender)))
            if record is not None:
                candidates.append(record)
        return min(candidates, key=lambda record: record.arrival, default=None)

    def _forget(self, record: TransactionRecord) -> None:
        self._transactions.pop(record.hash, None)
        self._evm_transactions.pop(record.hash, None)

    def _seal_block(self, applied: list[tuple[TransactionRecord, Any, Any]]) -> BlockRecord:
        number = len(self._blocks)
        # prevrandao: deterministic, so two runs of a test see the same chain apart from timestamps.
        block = self._chain.mine_block(mix_hash=keccak256(b"prevrandao" + number.to_bytes(8, "big")))
        header = block.header
        record_block = BlockRecord(
            number=number, hash=block.hash, header=header, size=len(pyrlp.encode(block))
        )
        base_fee = int(header.base_fee_per_gas)
        previous_cumulative = 0
        log_index = 0
        for index, (record, receipt, computation) in enumerate(applied):
            tx = record.signed
            record.block_number = number
            record.block_hash = block.hash
            record.index = index
            record.status = 0 if computation.is_error else 1
            record.cumulative_gas_used = int(receipt.gas_used)
            record.gas_used = record.cumulative_gas_used - previous_cumulative
            previous_cumulative = record.cumulative_gas_used
            record.effective_gas_price = min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
            if tx.to is None and record.status == 1:
                record.contract_address = keccak256(rlp.encode([record.sender, rlp.encode_uint(tx.nonce)]))[
                    12:
                ]
            entries = []
            for log in receipt.logs:
                entries.append(
                    LogEntry(
                        address=bytes(log.address),
                        topics=tuple(topic.to_bytes(32, "big") for topic in log.topics),
                        data=bytes(log.data),
                        block_number=number,
                        block_hash=block.hash,
                        transaction_hash=record.hash,
                        transaction_index=index,
                        log_index=log_index,
                    )
                )
                log_index += 1
            record.logs = tuple(entries)
            record.logs_bloom = int(receipt.bloom)
            record_block.transaction_hashes.append(record.hash)
            self._logs.extend(entries)
            self._evm_transactions.pop(record.hash, None)
        self._blocks.append(record_block)
        self._block_numbers[block.hash] = number
        return record_block

    # --- execution without a transaction ---------------------------------------------------------------

    def call(self, request: CallRequest, number: int) -> bytes:
        """eth_call: run against the state after block ``number``; reverts become ``RpcError(3)``."""
        with self._lock:
            spoof = self._spoof(request, number, request.gas or int(self._blocks[number].header.gas_limit))
            vm = self._chain.get_vm(at_header=self._blocks[number].header)
            with vm.in_costless_state() as state:
                try:
                    computation = state.apply_transaction(spoof)
                except ValidationError as exc:
                    raise RpcError(SERVER_ERROR, str(exc)) from None
            if computation.is_error:
                raise _execution_error(computation.error)
            return bytes(computation.output)

    def estimate_gas(self, request: CallRequest, number: int) -> int:
        """eth_estimateGas: the smallest gas limit with which the call does not run out of gas."""
        with self._lock:
            header = self._blocks[number].header
            spoof = self._spoof(request, number, request.gas or int(header.gas_limit))
            try:
                return int(self._chain.estimate_gas(spoof, header))
            except VMError as exc:
                raise _execution_error(exc) from None
            except ValidationError as exc:
                raise RpcError(SERVER_ERROR, str(exc)) from None

    def _spoof(self, request: CallRequest, number: int, gas: int) -> Any:
        builder = self._chain.get_vm(at_header=self._blocks[number].header).get_transaction_builder()
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id,
            nonce=int(self._state_at(number).get_nonce(request.sender)),
            max_priority_fee_per_gas=0,
            max_fee_per_gas=0,
            gas=gas,
            to=request.to if request.to is not None else b"",
            value=request.value,
            data=request.data,
            access_list=(),
        )
        return SpoofTransaction(unsigned, from_=request.sender)

    # --- logs and fees ---------------------------------------------------------------------------------

    def logs(self, log_filter: LogFilter) -> list[LogEntry]:
        with self._lock:
            return [entry for entry in self._logs if _matches(entry, log_filter)]

    def fee_history(
        self, block_count: int, newest: int, percentiles: Iterable[float]
    ) -> tuple[int, list[int], list[float], list[list[int]]]:
        """(oldest block, base fees incl. the next block's, gas-used ratios, tip percentiles per block)."""
        wanted = list(percentiles)
        with self._lock:
            oldest = max(0, newest - block_count + 1)
            base_fees: list[int] = []
            ratios: list[float] = []
            rewards: list[list[int]] = []
            for number in range(oldest, newest + 1):
                block = self._blocks[number]
                base_fees.append(int(block.header.base_fee_per_gas))
                ratios.append(block.header.gas_used / block.header.gas_limit)
                rewards.append(self._tip_percentiles(block, wanted))
            following = self._blocks[newest + 1].header if newest + 1 < len(self._blocks) else None
            base_fees.append(
                int(following.base_fee_per_gas) if following is not None else self.next_base_fee()
            )
            return oldest, base_fees, ratios, rewards

    def _tip_percentiles(self, block: BlockRecord, percentiles: list[float]) -> list[int]:
        base_fee = int(block.header.base_fee_per_gas)
        tips = sorted(
            (record.effective_gas_price - base_fee, record.gas_used)
            for record in (self._transactions[h] for h in block.transaction_hashes)
            if record.effective_gas_price is not None and record.gas_used is not None
        )
        total_gas = sum(gas for _, gas in tips)
        result = []
        for percentile in percentiles:
            if not tips:
                result.append(0)
                continue
            threshold = total_gas * percentile / 100
            cumulative = 0
            chosen = tips[-1][0]
            for tip, gas in tips:
                cumulative += gas
                if cumulative >= threshold:
                    chosen = tip
                    break
            result.append(chosen)
        return result


def _bumped(old: int, new: int) -> bool:
    return new * 100 >= old * (100 + REPLACEMENT_BUMP_PERCENT)


def _matches(entry: LogEntry, log_filter: LogFilter) -> bool:
    if not log_filter.from_block <= entry.block_number <= log_filter.to_block:
        return False
    if log_filter.addresses and entry.address not in log_filter.addresses:
        return False
    for position, wanted in enumerate(log_filter.topics):
        if wanted is None:
            continue
        if position >= len(entry.topics) or entry.topics[position] not in wanted:
            return False
    return True


def _execution_error(error: Exception) -> RpcError:
    """Map a VM error to geth's JSON-RPC error: code 3 with the revert data, or -32000 with its name."""
    if isinstance(error, Revert):
        data = bytes(error.args[0]) if error.args and isinstance(error.args[0], bytes) else b""
        reason = _revert_reason(data)
        message = f"execution reverted: {reason}" if reason else "execution reverted"
        return RpcError(EXECUTION_REVERTED, message, "0x" + data.hex())
    text = str(error) or type(error).__name__
    return RpcError(SERVER_ERROR, f"execution failed: {text}")


def _revert_reason(data: bytes) -> str | None:
    """Decode ``Error(string)`` revert data; anything malformed yields None (the raw data is still sent)."""
    if len(data) < 4 + 64 or data[:4] != _ERROR_STRING_SELECTOR:
        return None
    body = data[4:]
    offset = int.from_bytes(body[:32], "big")
    if offset + 32 > len(body):
        return None
    length = int.from_bytes(body[offset : offset + 32], "big")
    raw = body[offset + 32 : offset + 32 + length]
    if len(raw) != length:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
