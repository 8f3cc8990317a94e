"""The ante checks, in the chain's order: what CheckTx (SYNC) answers, and what a block re-runs first.

Order and texts follow cosmos-sdk v0.50's ante chain as dYdX assembles it (app/ante.go, spec §B5–B8):
signer count → timeout height (30) → memo (12) → gas for the tx size (11) → minimum fee, CheckTx only (13) →
fee deduction (5) → the signature path: either the classic one (pubkey → address (8), sequence (32) or a
timestamp nonce, signature (4)) or, with ``TxExtension.selected_authenticators``, x/accountplus's (smart
accounts active, one id per message, each message authenticated by the owner's selected authenticator) →
sequence increment. Transactions made only of short-term orders run on free gas with no fee and skip
sequence validation and increment; they are checked against the ShortBlockWindow instead.

``run_ante`` changes the ``state`` it is given (fee, sequence, nonce, pubkey), so callers pass the state
the result belongs to: the mempool's check state for SYNC, the next block's state when it is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dydx_airgap.online.rehearsal.v4_chain.errors as e
from dydx_airgap.shared.dydx_v4.address import dydx_address
from dydx_airgap.shared.dydx_v4.chain_tx import ChainTx
from dydx_airgap.shared.dydx_v4.clob import SHORT_BLOCK_WINDOW, MsgCancelOrder, MsgPlaceOrder
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.signature import is_valid_direct
from dydx_airgap.shared.dydx_v4.tx import MAX_MEMO_CHARS

from .authn import authenticate
from .errors import ChainError
from .state import ChainState, NonceDetails

#: cosmos-sdk auth params: TxSizeCostPerByte and the secp256k1 signature cost.
TX_SIZE_GAS_PER_BYTE = 10
SIG_VERIFY_GAS = 1000
#: x/accountplus timestamp nonces (keeper/timestampnonce.go).
TIMESTAMP_NONCE_CUTOFF = 1 << 40
MAX_TIME_IN_PAST_MS = 30_000
MAX_TIME_IN_FUTURE_MS = 30_000
MAX_TIMESTAMP_NONCES = 20


@dataclass(frozen=True)
class AnteResult:
    gas_used: int
    free_gas: bool


def coins_text(coins: list[Coin]) -> str:
    """sdk.Coins.String(): amount then denom, sorted by denom, joined by commas."""
    return ",".join(f"{c.amount}{c.denom}" for c in sorted(coins, key=lambda c: c.denom))


def required_fees(network: V4Network, gas_limit: int) -> list[Coin]:
    usdc = math.ceil(network.min_gas_price_usdc * gas_limit)
    native = network.min_gas_price_native * gas_limit
    return [Coin(network.usdc_denom, usdc), Coin(network.native_denom, native)]


def _check_fee(tx: ChainTx, network: V4Network) -> None:
    fee = tx.auth_info.fee
    required = required_fees(network, fee.gas_limit)
    if not any(f.denom == r.denom and f.amount >= r.amount for f in fee.amount for r in required):
        raise ChainError(
            e.INSUFFICIENT_FEE,
            f"insufficient fees; got: {coins_text(list(fee.amount))} required: {coins_text(required)}",
        )


def _timestamp_nonce(state: ChainState, address: str, nonce: int) -> None:
    block_ms = state.time_ms
    if not block_ms - MAX_TIME_IN_PAST_MS <= nonce <= block_ms + MAX_TIME_IN_FUTURE_MS:
        raise ChainError(e.WRONG_SEQUENCE, f"timestamp nonce {nonce} not within valid time window")
    details = state.nonces.get(address)
    if details is None:
        state.nonces[address] = NonceDetails([nonce], 0)
        return
    oldest = block_ms - MAX_TIME_IN_PAST_MS
    for old in [n for n in details.nonces if n < oldest]:
        details.max_ejected = max(details.max_ejected, old)
    details.nonces = [n for n in details.nonces if n >= oldest]
    accepted = nonce > details.max_ejected and nonce not in details.nonces
    if accepted and len(details.nonces) >= MAX_TIMESTAMP_NONCES:
        smallest = min(details.nonces)
        accepted = nonce > smallest
        if accepted:
            details.max_ejected = smallest
            details.nonces[details.nonces.index(smallest)] = nonce
    elif accepted:
        details.nonces.append(nonce)
    if not accepted:
        raise ChainError(e.WRONG_SEQUENCE, f"timestamp nonce {nonce} rejected")


def _short_term_window(tx: ChainTx, height: int) -> None:
    next_height = height + 1
    for message in tx.body.messages:
        if isinstance(message, MsgPlaceOrder | MsgCancelOrder):
            gtb = message.good_til_block
            if gtb < next_height:
                raise ChainError(e.HEIGHT_EXCEEDS_GOOD_TIL_BLOCK, codespace=e.CLOB)
            if gtb > next_height + SHORT_BLOCK_WINDOW:
                raise ChainError(e.GOOD_TIL_BLOCK_EXCEEDS_WINDOW, codespace=e.CLOB)


def run_ante(
    state: ChainState,
    tx: ChainTx,
    tx_size: int,
    *,
    chain_id: str,
    network: V4Network,
    check_tx: bool,
) -> AnteResult:
    body, auth = tx.body, tx.auth_info
    signers = body.signers()
    if len(signers) != 1:
        raise ChainError(e.UNAUTHORIZED, f"invalid number of signer;  expected: {len(signers)}, got 1")
    signer = signers[0]
    has_clob = any(isinstance(msg, MsgPlaceOrder | MsgCancelOrder) for msg in body.messages)
    if has_clob and len(body.messages) != 1:
        # ours: dYdX refuses order messages batched with others; the wording here is the stand-in's.
        raise ChainError(
            e.INVALID_REQUEST, "a transaction with an order message must contain exactly one message"
        )
    free = body.skips_sequence
    if body.timeout_height and state.height > body.timeout_height:
        raise ChainError(
            e.TX_TIMEOUT_HEIGHT, f"block height: {state.height}, timeout height: {body.timeout_height}"
        )
    if body.memo_too_long:
        raise ChainError(
            e.MEMO_TOO_LARGE,
            f"maximum number of characters is {MAX_MEMO_CHARS} but received {len(body.memo)} characters",
        )
    gas = TX_SIZE_GAS_PER_BYTE * tx_size
    if not free and gas > auth.fee.gas_limit:
        raise ChainError(
            e.OUT_OF_GAS, f"out of gas in location: txSize; gasWanted: {auth.fee.gas_limit}, gasUsed: {gas}"
        )
    if free:
        _short_term_window(tx, state.height)
    elif check_tx:
        _check_fee(tx, network)
    account = state.accounts.get(signer)
    if account is None:
        raise ChainError(e.UNKNOWN_ADDRESS, f"account {signer} does not exist")
    if not free:
        for coin in auth.fee.amount:
            if not state.debit(signer, coin.denom, coin.amount):
                have = state.balance(signer, coin.denom)
                raise ChainError(
                    e.INSUFFICIENT_FUNDS,
                    f"spendable balance {have}{coin.denom} is smaller than {coin.amount}{coin.denom}: "
                    f"{e.INSUFFICIENT_FUNDS[1]}",
                )
    sequence = auth.signer.sequence
    sign_doc = tx.sign_doc(chain_id, account.number).encode()
    selected = body.selected_authenticators
    if not selected:
        if dydx_address(auth.signer.public_key) != signer or (
            account.pub_key is not None and account.pub_key != auth.signer.public_key
        ):
            raise ChainError(
                e.INVALID_PUBKEY, f"pubKey does not match signer address {signer} with signer index: 0"
            )
    elif not state.smart_account_active:
        raise ChainError(e.SMART_ACCOUNT_NOT_ACTIVE, codespace=e.ACCOUNTPLUS)
    elif len(selected) != len(body.messages):
        raise ChainError(
            e.INVALID_REQUEST,
            "Mismatch between the number of selected authenticators and messages, "
            f"msg count {len(body.messages)}, got {len(selected)} selected authenticators",
        )
    nonce = sequence >= TIMESTAMP_NONCE_CUTOFF
    if not free:
        if nonce:
            _timestamp_nonce(state, signer, sequence)
        elif sequence != account.sequence:
            raise ChainError(
                e.WRONG_SEQUENCE, f"account sequence mismatch, expected {account.sequence}, got {sequence}"
            )
    if not selected:
        if not is_valid_direct(auth.signer.public_key, sign_doc, tx.signature):
            raise ChainError(
                e.UNAUTHORIZED,
                f"signature verification failed; please verify account number ({account.number}), "
                f"sequence ({sequence}) and chain-id ({chain_id})",
            )
        account.pub_key = auth.signer.public_key
        gas += SIG_VERIFY_GAS
    else:
        owned = state.authenticators.get(signer, {})
        for index, (message, ident) in enumerate(zip(body.messages, selected, strict=True)):
            stored = owned.get(ident)
            if stored is None:
                raise ChainError(
                    e.AUTHENTICATOR_NOT_FOUND,
                    f"failed to get initialized authenticator (account = {signer}, "
                    f"authenticator id = {ident}, "
                    f"msg index = {index}, msg type url = {message.TYPE_URL}): "
                    f"authenticator {ident} not found for account {signer}",
                    e.ACCOUNTPLUS,
                )
            try:
                authenticate(stored.type, stored.config, message, sign_doc, tx.signature)
            except ChainError as exc:
                raise exc.wrap(
                    f"authentication failed for message {index}, authenticator id {ident}, type {stored.type}"
                ) from None
            gas += SIG_VERIFY_GAS
    if not free and not nonce:
        account.sequence += 1
    return AnteResult(gas_used=gas, free_gas=free)
