"""What the frozen StarkPerpetual and the escape verifier say, read by the relay (escape-hatch.md §A2, §A6).

Every answer is decoded strictly; a view that reverts where the revert means something (``getEthKey`` of an
unregistered key, ``escape`` of a used position) is turned into that meaning, any other failure propagates.
The shared state is checked against the last ``updateState`` call's program output, never against
``getVaultRoot()``, which on dYdX returns the empty tree's root (spec headline 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from dydx_airgap.online.onchain.revert import reason_of
from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError, data_bytes
from dydx_airgap.shared.dydx_v3.escape.calldata import (
    EVENT_DEPOSIT,
    EVENT_UPDATE_STATE,
    GET_QUANTIZED_DEPOSIT_BALANCE,
    GET_WITHDRAWAL_BALANCE,
    IS_FROZEN,
    IS_VALID,
    DepositCancelCall,
    EscapeCall,
    decode_update_state,
)
from dydx_airgap.shared.dydx_v3.escape.sources import new_state_from_program_output
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import AirgapError, FormatError, PolicyError, RemoteError
from dydx_airgap.shared.ethereum.abi import decode_uint256_result, uint_word
from dydx_airgap.shared.ethereum.address import same_address

#: How far back, in blocks per query and queries in all, the relay looks for the last updateState.
LOG_WINDOW = 100_000
MAX_LOG_WINDOWS = 150  # 15 M blocks: back past dYdX v3's deployment (block ~11.9 M) from today's head


def _uint(result: bytes, what: str) -> int:
    try:
        return decode_uint256_result(result)
    except FormatError:
        raise RemoteError(f"{what}: the contract's answer is not one uint256") from None


def is_frozen(rpc: EthRpc, network: Network) -> bool:
    value = _uint(rpc.eth_call(network.stark_perpetual, IS_FROZEN), "isFrozen()")
    if value > 1:
        raise RemoteError("isFrozen(): the contract's answer is not a boolean")
    return value == 1


def fact_registered(rpc: EthRpc, verifier: str, fact: bytes) -> bool:
    value = _uint(rpc.eth_call(verifier, IS_VALID + fact), "isValid(fact)")
    if value > 1:
        raise RemoteError("isValid(fact): the verifier's answer is not a boolean")
    return value == 1


def withdrawal_balance(rpc: EthRpc, network: Network, stark_key: int) -> int:
    data = GET_WITHDRAWAL_BALANCE + uint_word(stark_key) + uint_word(network.collateral_asset_id)
    return _uint(rpc.eth_call(network.stark_perpetual, data), "getWithdrawalBalance")


def deposit_balance(rpc: EthRpc, network: Network, stark_key: int, position_id: int) -> int:
    data = (
        GET_QUANTIZED_DEPOSIT_BALANCE
        + uint_word(stark_key)
        + uint_word(network.collateral_asset_id)
        + uint_word(position_id)
    )
    return _uint(rpc.eth_call(network.stark_perpetual, data), "getQuantizedDepositBalance")


def call_reverts(rpc: EthRpc, to: str, data: bytes, sender: str) -> str | None:
    """None if the call succeeds now, else the contract's revert reason."""
    try:
        rpc.eth_call(to, data, sender=sender)
    except RpcCallError as exc:
        if exc.reverted:
            return reason_of(exc)
        raise
    return None


def escape_already_used(rpc: EthRpc, network: Network, call: EscapeCall, sender: str) -> bool:
    """``escape`` marks a position used before it checks the fact: its revert says which case this is."""
    reason = call_reverts(rpc, network.stark_perpetual, call.encode(), sender)
    return reason is not None and "ESCAPE_ALREADY_USED" in reason


def deposit_step(
    rpc: EthRpc, network: Network, stark_key: int, position_id: int, sender: str
) -> tuple[str | None, str]:
    """For a pending deposit: 'deposit-reclaim' if reclaimable now, 'deposit-cancel' if not yet cancelled,
    None while the cancel waits out DEPOSIT_CANCEL_DELAY; and a sentence for the operator."""
    reclaim = DepositCancelCall(stark_key, network.collateral_asset_id, position_id, reclaim=True).encode()
    reason = call_reverts(rpc, network.stark_perpetual, reclaim, sender)
    if reason is None:
        return "deposit-reclaim", "the cancelled deposit can be reclaimed now"
    if "DEPOSIT_LOCKED" in reason:
        return (
            None,
            "the deposit's cancellation waits out the contract's DEPOSIT_CANCEL_DELAY; prepare again later",
        )
    return "deposit-cancel", "the deposit was never processed: cancel it now, reclaim it after the delay"


def _windows(rpc: EthRpc, address: str, topic: str) -> list[dict[str, object]]:
    """Every log of one event of ``address``, newest window first, LOG_WINDOW blocks a query."""
    head = rpc.block_number()
    found: list[dict[str, object]] = []
    to_block = head
    for _ in range(MAX_LOG_WINDOWS):
        from_block = max(0, to_block - LOG_WINDOW + 1)
        found = rpc.logs(address, [topic], from_block, to_block) + found
        if from_block == 0:
            break
        to_block = from_block - 1
    return found


def deposited_positions(rpc: EthRpc, network: Network, depositor: str) -> list[tuple[int, int]]:
    """(STARK key, position id) of every LogDeposit ``depositor`` made, oldest first, without repeats.

    LogDeposit(depositorEthKey, starkKey, vaultId, assetType, nonQuantizedAmount, quantizedAmount) has no
    indexed field, so every deposit event is read and decoded; a position funded from L1 always has one."""
    seen: list[tuple[int, int]] = []
    for entry in _windows(rpc, network.stark_perpetual, "0x" + EVENT_DEPOSIT.hex()):
        try:
            data = data_bytes(entry.get("data"), "LogDeposit data")
        except AirgapError:
            continue
        if len(data) != 6 * 32 or not same_address("0x" + data[12:32].hex(), depositor):
            continue
        pair = (int.from_bytes(data[32:64], "big"), int.from_bytes(data[64:96], "big"))
        if pair not in seen:
            seen.append(pair)
    return seen


@dataclass(frozen=True)
class StateUpdate:
    tx_hash: str
    block_number: int
    new_state: tuple[int, ...]


def last_state_update(rpc: EthRpc, network: Network, pinned_tx: str | None) -> StateUpdate:
    """The new shared state of the last ``updateState`` (its LogUpdateState), or of ``pinned_tx``."""
    if pinned_tx is not None:
        tx_hash = pinned_tx
    else:
        head = rpc.block_number()
        topic = "0x" + EVENT_UPDATE_STATE.hex()
        found: list[dict[str, object]] = []
        to_block = head
        for _ in range(MAX_LOG_WINDOWS):
            from_block = max(0, to_block - LOG_WINDOW + 1)
            found = rpc.logs(network.stark_perpetual, [topic], from_block, to_block)
            if found or from_block == 0:
                break
            to_block = from_block - 1
        if not found:
            raise RemoteError(
                f"no LogUpdateState of {network.stark_perpetual} in the last "
                f"{min(head + 1, LOG_WINDOW * MAX_LOG_WINDOWS)} blocks: pass the last updateState "
                "transaction with --state-update-tx"
            )
        tx_hash = str(found[-1].get("transactionHash", ""))
    tx = rpc.transaction(data_bytes(tx_hash, "state update transaction hash"))
    if tx is None:
        raise RemoteError(f"the node does not know the state update transaction {tx_hash}")
    to = tx.get("to")
    if not isinstance(to, str) or not same_address(to, network.stark_perpetual):
        raise PolicyError(f"transaction {tx_hash} is not a call to {network.name}'s StarkPerpetual")
    try:
        program_output, _application_data = decode_update_state(data_bytes(tx.get("input"), "input"))
        new_state = new_state_from_program_output(program_output)
    except AirgapError as exc:
        raise RemoteError(
            f"transaction {tx_hash} is not a readable updateState call: {exc.message}"
        ) from None
    block = tx.get("blockNumber")
    return StateUpdate(
        tx_hash=tx_hash.lower(),
        block_number=int(str(block), 16) if isinstance(block, str) else 0,
        new_state=new_state,
    )
