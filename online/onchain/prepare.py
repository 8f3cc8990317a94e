"""``dydx-relay prepare``: an unsigned transaction and the public facts behind it, as a ``tx-request``.

The cold machine cannot know the account nonce, current fees, the gas a call needs, dYdX's registration
signature or the position id. The relay gathers them, checks what can be checked before anyone signs, and
writes a ``tx-request`` payload (expiring after an hour by default) for ``dydx-offline sign tx``:

1. the node serves the network's chain id, and the contracts exist there;
2. the account (STARK key, position id) comes from the API with the stored default credentials; for
   ``register``, dYdX's signature comes from ``GET /v3/registration`` and its signer is checked against the
   contract's ``isUserAdmin`` — an API that hands out someone else's signature is caught here;
3. the nonce is the node's pending nonce, or the next one after requests this relay prepared that no node
   has seen yet (so register, approve and deposit can be prepared together and signed in one trip);
4. fees: :mod:`.fees`; gas: the node's estimate + 30 %. A deposit prepared before its approve or register
   is mined cannot be estimated (it would revert now), so it gets the fixed limit dydx3 used as fallback,
   250,000, and the output says so; any other reverting estimate stops here with the reason;
5. the address must hold the ETH for gas (and the USDC for a deposit) — a shortfall stops here, because a
   round trip to the cold machine for a transaction that cannot be sent is wasted.

Every prepared request is journaled (id, SHA-256, payload) *before* its file is written, so ``broadcast``
can match the signed answer to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from dydx_airgap.online.http import RetryPolicy
from dydx_airgap.online.onchain.api_facts import (
    AccountFacts,
    fetch_account,
    fetch_registration_signature,
    registration_signer,
)
from dydx_airgap.online.onchain.chain_reads import (
    is_user_admin,
    registered_eth_key,
    require_contract,
    usdc_allowance,
    usdc_balance,
)
from dydx_airgap.online.onchain.fees import FeeSuggestion, suggest_fees
from dydx_airgap.online.onchain.revert import explain, reason_of
from dydx_airgap.online.onchain.rpc import EthRpc, RpcCallError, RpcTarget, parse_rpc_url
from dydx_airgap.online.onchain.tx_journal import StoredRequest, TxJournal
from dydx_airgap.online.onchain.units import format_eth
from dydx_airgap.online.relay.api_client import ApiClient
from dydx_airgap.online.relay.credentials import CREDENTIALS_FILE, CredentialStore
from dydx_airgap.online.relay.server_clock import ServerClock
from dydx_airgap.online.relay.target import resolve_api_target
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.shared.dydx_v3.calldata import (
    UNLIMITED_ALLOWANCE,
    ApproveCall,
    DepositCall,
    RegisterUserCall,
    format_usdc,
    usdc_to_base_units,
)
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.errors import AirgapError, InputError, PolicyError, RemoteError
from dydx_airgap.shared.ethereum.address import parse_address, same_address, to_checksum_address
from dydx_airgap.shared.fsutil import atomic_write_bytes
from dydx_airgap.shared.timestamps import now_utc
from dydx_airgap.shared.transport.payload import Payload, new_payload

ACTIONS = ("register", "approve", "deposit")
DEFAULT_VALIDITY = timedelta(hours=1)
MAX_VALIDITY = timedelta(hours=24)
MIN_VALIDITY = timedelta(minutes=1)
GAS_MARGIN_PERCENT = 30
#: dydx3's gas limit when eth_estimateGas fails; a StarkEx deposit uses well under it.
DEPOSIT_FALLBACK_GAS_LIMIT = 250_000
MIN_GAS_LIMIT = 21_000
MAX_GAS_LIMIT = 30_000_000
#: The tx-request schema's amount field holds at most 16 integer digits.
MAX_AMOUNT_UNITS = 10**22 - 1


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class PrepareOptions:
    action: str
    network: Network
    address: str
    rpc_url: str
    api_url: str
    out: Path
    amount: str | None = None
    state_dir: Path | None = None
    priority_fee_wei: int | None = None
    nonce: int | None = None
    gas_limit: int | None = None
    valid_for: timedelta = DEFAULT_VALIDITY
    allow_host: bool = False
    allow_insufficient_funds: bool = False
    report: Callable[[str], None] = _quiet
    rpc_transport: httpx.BaseTransport | None = None
    api_transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass
class PreparedTx:
    """What was prepared, for the operator (text) and for scripts (``to_json``)."""

    payload: Payload
    out: Path
    journal_path: Path
    network: Network
    action: str
    address: str
    to: str
    to_label: str
    function: str
    arguments: list[tuple[str, str]]
    nonce: int
    nonce_note: str
    gas_estimate: int | None
    gas_limit: int
    gas_note: str
    fees: FeeSuggestion
    max_cost_wei: int
    eth_balance: int
    usdc_balance: int
    allowance: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        tx = self.payload.body["transaction"]
        return {
            "request_id": self.payload.id,
            "sha256": self.payload.digest.hex(),
            "fingerprint": self.payload.fingerprint,
            "file": str(self.out),
            "journal": str(self.journal_path),
            "expires": self.payload.expires,
            "network_id": self.network.chain_id,
            "action": self.action,
            "address": self.address,
            "to": self.to,
            "to_label": self.to_label,
            "function": self.function,
            "arguments": dict(self.arguments),
            "nonce": self.nonce,
            "nonce_note": self.nonce_note,
            "gas_estimate": self.gas_estimate,
            "gas_limit": self.gas_limit,
            "gas_note": self.gas_note,
            "base_fee_per_gas": self.fees.base_fee_per_gas,
            "max_priority_fee_per_gas": tx["max_priority_fee_per_gas"],
            "max_fee_per_gas": tx["max_fee_per_gas"],
            "priority_fee_source": self.fees.priority_source,
            "max_cost_wei": str(self.max_cost_wei),
            "eth_balance_wei": str(self.eth_balance),
            "usdc_balance": format_usdc(self.usdc_balance),
            "usdc_allowance": "unlimited"
            if self.allowance == UNLIMITED_ALLOWANCE
            else format_usdc(self.allowance),
            "notes": list(self.notes),
        }


def amount_units(action: str, amount: str | None) -> int | None:
    """The ``--amount`` in USDC base units, checked against what ``action`` allows."""
    if action not in ACTIONS:
        raise InputError(f"unknown action {action[:20]!r}: use one of {', '.join(ACTIONS)}")
    if amount is None:
        if action == "deposit":
            raise InputError("deposit needs --amount (USDC, e.g. --amount 1250.50)")
        return None
    if action == "register":
        raise InputError("register takes no --amount")
    units = usdc_to_base_units(amount)
    if units > MAX_AMOUNT_UNITS:
        raise InputError("--amount is implausibly large (more than 16 digits of USDC)")
    if action == "deposit" and units == 0:
        raise InputError("a deposit of 0 USDC does nothing: give --amount above 0")
    return units


def prepare_transaction(options: PrepareOptions) -> PreparedTx:
    """Gather the facts, build and journal the ``tx-request``, write it to ``options.out``."""
    units = amount_units(options.action, options.amount)
    address = to_checksum_address(parse_address(options.address))
    if options.nonce is not None and not 0 <= options.nonce < 2**63:
        raise InputError("--nonce must be between 0 and 2^63 - 1")
    if options.gas_limit is not None and not MIN_GAS_LIMIT <= options.gas_limit <= MAX_GAS_LIMIT:
        raise InputError(f"--gas-limit must be between {MIN_GAS_LIMIT} and {MAX_GAS_LIMIT}")
    if not MIN_VALIDITY <= options.valid_for <= MAX_VALIDITY:
        raise InputError("the request's validity must be between 1 minute and 24 hours")
    if options.out.is_dir():
        raise InputError(f"--out {options.out} is a directory; name the file to write")
    api_target = resolve_api_target(options.api_url, options.network, allow_host=options.allow_host)
    rpc_target = parse_rpc_url(options.rpc_url)
    with (
        locked_state_dir(options.state_dir) as state_dir,
        TxJournal.open(state_dir) as journal,
        EthRpc(
            rpc_target,
            transport=options.rpc_transport,
            retry=options.retry,
            sleep=options.sleep,
            report=options.report,
        ) as rpc,
        ApiClient(
            api_target.origin,
            transport=options.api_transport,
            retry=options.retry,
            sleep=options.sleep,
            report=options.report,
        ) as api,
    ):
        store = CredentialStore(state_dir)
        stored = store.pick(api_target.origin, address)
        if stored is None:
            raise InputError(
                f"no API credentials for {address} at {api_target.origin} in {state_dir / CREDENTIALS_FILE}: "
                "submit the onboarding payload with this relay (same --state) first; it keeps the default key"
            )
        run = _Preparation(options, address, units, rpc, rpc_target, journal)
        return run.execute(api, stored.credentials, api_target.origin)


class _Preparation:
    def __init__(
        self,
        options: PrepareOptions,
        address: str,
        units: int | None,
        rpc: EthRpc,
        rpc_target: RpcTarget,
        journal: TxJournal,
    ) -> None:
        self.options = options
        self.network = options.network
        self.action = options.action
        self.address = address
        self.units = units
        self.rpc = rpc
        self.rpc_target = rpc_target
        self.journal = journal
        self.notes: list[str] = []

    def execute(self, api: ApiClient, credentials: ApiCredentials, api_origin: str) -> PreparedTx:
        net = self.network
        served = self.rpc.chain_id()
        if served != net.chain_id:
            raise PolicyError(
                f"the node at {self.rpc_target.origin} serves chain id {served}, not {net.label}: "
                "use a node of that network"
            )
        require_contract(self.rpc, net.stark_perpetual, "StarkPerpetual")
        require_contract(self.rpc, net.usdc, "USDC")

        clock = ServerClock.measure(api)
        account = fetch_account(api, credentials, clock, self.address)
        nonce, nonce_note, earlier, unmined_before = self._nonce()

        eth = self.rpc.balance(self.address)
        usdc = usdc_balance(self.rpc, net, self.address)
        allowance = usdc_allowance(self.rpc, net, self.address)
        registered = registered_eth_key(self.rpc, net, account.stark_key)
        earlier_actions = {r.action for r in earlier}

        if self.action == "register":
            to, label, function, data, arguments = self._register(
                api, credentials, clock, account, registered
            )
        elif self.action == "approve":
            to, label, function, data, arguments = self._approve(usdc)
        else:
            to, label, function, data, arguments = self._deposit(
                account, registered, allowance, usdc, earlier_actions, unmined_before
            )

        estimate, gas_limit, gas_note = self._gas(to, data, unmined_before)
        fees = suggest_fees(self.rpc, self.options.priority_fee_wei)
        max_cost = gas_limit * fees.max_fee_per_gas
        self._check_eth(eth, max_cost, earlier)

        body = {
            "action": self.action,
            "transaction": {
                "chain_id": net.chain_id,
                "nonce": nonce,
                "max_priority_fee_per_gas": fees.max_priority_fee_per_gas,
                "max_fee_per_gas": fees.max_fee_per_gas,
                "gas_limit": gas_limit,
                "to": to,
                "value": 0,
                "data": "0x" + data.hex(),
            },
            "context": {
                "stark_public_key": f"0x{account.stark_key:064x}",
                "position_id": str(account.position_id),
                "amount": None if self.units is None else format_usdc(self.units),
                "base_fee_per_gas": fees.base_fee_per_gas,
                "gas_estimate": estimate,
                "rpc": self.rpc_target.origin,
            },
        }
        payload = new_payload(
            "tx-request", net.chain_id, self.address, body, expires_in=self.options.valid_for, now=now_utc()
        )
        self.journal.add_request(
            payload,
            nonce=nonce,
            max_cost_wei=max_cost,
            rpc_origin=self.rpc_target.origin,
            api_origin=api_origin,
        )
        try:
            atomic_write_bytes(self.options.out, payload.to_bytes())
        except BaseException:
            self.journal.forget_request(payload.id)  # it never left: its nonce must not stay reserved
            raise
        return PreparedTx(
            payload=payload,
            out=self.options.out,
            journal_path=self.journal.path,
            network=net,
            action=self.action,
            address=self.address,
            to=to,
            to_label=label,
            function=function,
            arguments=arguments,
            nonce=nonce,
            nonce_note=nonce_note,
            gas_estimate=estimate,
            gas_limit=gas_limit,
            gas_note=gas_note,
            fees=fees,
            max_cost_wei=max_cost,
            eth_balance=eth,
            usdc_balance=usdc,
            allowance=allowance,
            notes=self.notes,
        )

    # ---- nonce ----

    def _nonce(self) -> tuple[int, str, list[StoredRequest], int]:
        """(nonce, how it was chosen, earlier outstanding requests, transactions that will run first)."""
        latest = self.rpc.transaction_count(self.address, "latest")
        pending = self.rpc.transaction_count(self.address, "pending")
        if pending < latest:
            raise RemoteError("the node's pending nonce is below its latest nonce: the node is inconsistent")
        outstanding = self.journal.outstanding(self.network.chain_id, self.address, pending, now_utc())
        in_pool = pending - latest
        if self.options.nonce is not None:
            nonce = self.options.nonce
            if nonce < latest:
                raise PolicyError(
                    f"--nonce {nonce} is already used on chain ({self.address}'s next nonce is {latest})"
                )
            note = f"given with --nonce; the node's next nonce is {pending}"
            if nonce < pending:
                note += ": it replaces a transaction waiting in the pool and must pay at least 10 % more"
            next_free = max([pending, *(r.nonce + 1 for r in outstanding if r.nonce < nonce)])
            if nonce > next_free:
                note += (
                    f"; WARNING: nonces {next_free} to {nonce - 1} are unused, so it would wait in the pool"
                )
        else:
            nonce = max([pending, *(r.nonce + 1 for r in outstanding)])
            parts = [f"the node's next nonce is {pending}"]
            if in_pool:
                parts.append(f"{in_pool} transaction(s) of this address wait in the node's pool")
            if outstanding:
                listed = ", ".join(f"{r.action} nonce {r.nonce} ({r.id[:8]})" for r in outstanding)
                parts.append(f"after the requests prepared here and not broadcast yet: {listed}")
            note = "; ".join(parts)
        for request in outstanding:
            if request.nonce == nonce:
                self.notes.append(
                    f"the outstanding {request.action} request {request.id} has the same nonce {nonce}: "
                    "only one of the two can ever be mined"
                )
            elif request.action == self.action and self.options.nonce is None:
                self.notes.append(
                    f"another {request.action} request, {request.id} (nonce {request.nonce}), is still "
                    f"outstanding; to replace it rather than add one, prepare with --nonce {request.nonce}"
                )
        earlier = [r for r in outstanding if r.nonce < nonce]
        return nonce, note, earlier, in_pool + len(earlier)

    # ---- the three calls ----

    def _register(
        self,
        api: ApiClient,
        credentials: ApiCredentials,
        clock: ServerClock,
        account: AccountFacts,
        registered: str | None,
    ) -> tuple[str, str, str, bytes, list[tuple[str, str]]]:
        net = self.network
        stark = f"0x{account.stark_key:064x}"
        if registered is not None:
            if same_address(registered, self.address):
                raise PolicyError(
                    f"STARK key {stark} is already registered to {self.address} on chain: nothing to "
                    "prepare; go on with approve and deposit"
                )
            raise PolicyError(f"STARK key {stark} is registered to another address, {registered}, on chain")
        signature = fetch_registration_signature(api, credentials, clock)
        try:
            call = RegisterUserCall(eth_key=self.address, stark_key=account.stark_key, signature=signature)
        except AirgapError as exc:
            raise RemoteError(f"GET /v3/registration: unusable signature: {exc.message}") from None
        signer = registration_signer(self.address, account.stark_key, signature)
        admin = is_user_admin(self.rpc, net, signer)
        if admin is False:
            raise PolicyError(
                f"the API's registration signature is by {signer}, whom the StarkPerpetual contract does "
                "not accept as user admin: registerUser would revert (INVALID_SIGNATURE); is --api the dYdX "
                f"API of {net.label}?"
            )
        signer_text = signer + (
            "  (a user admin of the contract)" if admin else "  (the contract has no isUserAdmin view to ask)"
        )
        arguments = [
            ("ethKey", self.address),
            ("starkKey", stark),
            ("signature", "0x" + signature.hex()),
            ("signed by", signer_text),
        ]
        return (
            to_checksum_address(net.stark_perpetual),
            "StarkPerpetual",
            "registerUser(address,uint256,bytes)",
            call.encode(),
            arguments,
        )

    def _approve(self, usdc: int) -> tuple[str, str, str, bytes, list[tuple[str, str]]]:
        net = self.network
        if self.units is None:
            amount = UNLIMITED_ALLOWANCE
            shown = "UNLIMITED (2^256-1)"
            self.notes.append(
                "no --amount: approving an UNLIMITED allowance, as dydx3 did; pass --amount to approve "
                "exactly the deposit"
            )
        else:
            amount = self.units
            shown = f"{format_usdc(amount)} USDC ({amount} base units), exactly --amount"
            if usdc < amount:
                self.notes.append(
                    f"{self.address} holds {format_usdc(usdc)} USDC, "
                    f"less than the {format_usdc(amount)} approved"
                )
        call = ApproveCall(spender=net.stark_perpetual, amount=amount)
        arguments = [
            ("spender", f"{to_checksum_address(net.stark_perpetual)} (StarkPerpetual)"),
            ("amount", shown),
        ]
        return to_checksum_address(net.usdc), "USDC", "approve(address,uint256)", call.encode(), arguments

    def _deposit(
        self,
        account: AccountFacts,
        registered: str | None,
        allowance: int,
        usdc: int,
        earlier_actions: set[str],
        unmined_before: int,
    ) -> tuple[str, str, str, bytes, list[tuple[str, str]]]:
        net = self.network
        assert self.units is not None
        units = self.units
        stark = f"0x{account.stark_key:064x}"
        if registered is not None and not same_address(registered, self.address):
            raise PolicyError(f"STARK key {stark} is registered to another address, {registered}, on chain")
        if registered is None:
            if "register" in earlier_actions or unmined_before:
                self.notes.append(
                    "the STARK key is not registered yet: the register transaction must be mined first"
                )
            else:
                raise PolicyError(
                    f"STARK key {stark} is not registered on chain: prepare and broadcast 'register' first"
                )
        if allowance < units:
            if "approve" in earlier_actions or unmined_before:
                self.notes.append(
                    f"the USDC allowance is {format_usdc(allowance)} now: "
                    "the approve transaction must be mined first"
                )
            else:
                raise PolicyError(
                    f"the StarkPerpetual contract may move only {format_usdc(allowance)} USDC of "
                    f"{self.address}, less than {format_usdc(units)}: prepare and broadcast "
                    f"'approve --amount {format_usdc(units)}' first"
                )
        if usdc < units:
            self._shortfall(
                f"{self.address} holds {format_usdc(usdc)} USDC, "
                f"less than the deposit of {format_usdc(units)} USDC"
            )
        call = DepositCall(
            stark_key=account.stark_key,
            asset_type=net.collateral_asset_id,
            vault_id=account.position_id,
            quantized_amount=units,
        )
        arguments = [
            ("starkKey", stark),
            ("assetType", f"0x{net.collateral_asset_id:064x} (USDC collateral)"),
            ("vaultId", f"{account.position_id} (position id of the user's dYdX account number 0)"),
            ("quantizedAmount", f"{units} = {format_usdc(units)} USDC"),
        ]
        return (
            to_checksum_address(net.stark_perpetual),
            "StarkPerpetual",
            "deposit(uint256,uint256,uint256,uint256)",
            call.encode(),
            arguments,
        )

    # ---- gas and funds ----

    def _gas(self, to: str, data: bytes, unmined_before: int) -> tuple[int | None, int, str]:
        given = self.options.gas_limit
        try:
            estimate: int | None = self.rpc.estimate_gas(self.address, to, data)
        except RpcCallError as exc:
            if not exc.reverted:
                raise
            reason = explain(reason_of(exc))
            if given is not None:
                self.notes.append(f"the node's gas estimate reverted ({reason}); using --gas-limit {given}")
                return None, given, f"--gas-limit {given} (no estimate: the call reverts now)"
            if self.action == "deposit" and unmined_before:
                self.notes.append(
                    f"the deposit cannot be estimated before the {unmined_before} earlier transaction(s) are "
                    f"mined (it reverts now: {reason}); using the fixed gas limit "
                    f"{DEPOSIT_FALLBACK_GAS_LIMIT}. Broadcast the earlier ones first"
                )
                return (
                    None,
                    DEPOSIT_FALLBACK_GAS_LIMIT,
                    "fixed fallback: no estimate before the earlier transactions are mined",
                )
            raise PolicyError(f"{self.action} would revert now: {reason}; nothing was prepared") from None
        assert estimate is not None
        if given is not None:
            if given < estimate:
                raise PolicyError(
                    f"--gas-limit {given} is below the node's estimate {estimate}: it would run out of gas"
                )
            return estimate, given, f"--gas-limit {given} (node estimate {estimate})"
        limit = min(MAX_GAS_LIMIT, max(MIN_GAS_LIMIT, -(-estimate * (100 + GAS_MARGIN_PERCENT) // 100)))
        return estimate, limit, f"node estimate {estimate} + {GAS_MARGIN_PERCENT} %"

    def _shortfall(self, text: str) -> None:
        if self.options.allow_insufficient_funds:
            self.notes.append(f"WARNING: {text}")
            return
        raise PolicyError(f"{text}: fund it first, or pass --allow-insufficient-funds to prepare anyway")

    def _check_eth(self, eth: int, max_cost: int, earlier: list[StoredRequest]) -> None:
        earlier_cost = sum(r.max_cost_wei for r in earlier)
        if eth >= max_cost + earlier_cost:
            return
        text = (
            f"{self.address} holds {format_eth(eth)}, "
            f"but this transaction may cost up to {format_eth(max_cost)}"
        )
        if earlier_cost:
            text += f" after {len(earlier)} earlier prepared one(s) costing up to {format_eth(earlier_cost)}"
        self._shortfall(text)
