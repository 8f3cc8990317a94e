"""`sign onboarding`, `sign api-key create|delete`, `sign recovery`."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.evidence.log import append_entry, log_head
from dydx_airgap.offline.keys.sources import (
    ACCOUNT_SEARCH_LIMIT,
    AccountKey,
    find_account_index,
    load_one_key,
)
from dydx_airgap.offline.options import (
    KeySourceOptions,
    accept_clock_offset_option,
    account_option,
    clock_from_option,
    evidence_log_option,
    json_option,
    key_source_from,
    key_source_options,
    max_fee_gwei_option,
    network_option,
    v4_mnemonic_from,
    v4_mnemonic_options,
    v4_network_option,
    variant_option,
    yes_option,
)
from dydx_airgap.offline.review.screen import confirm, render, show
from dydx_airgap.offline.review.v4_review import (
    DEFAULT_MAX_FEE_NATIVE,
    DEFAULT_MAX_FEE_USDC,
    DEFAULT_MAX_TIMEOUT_BLOCKS,
)
from dydx_airgap.offline.signing.clock import LOCAL_CLOCK, Clock, check_not_expired, clock_from_time_payload
from dydx_airgap.offline.signing.requests import SignedRequest
from dydx_airgap.shared.display import escape_for_display
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature, verify_onboarding_signature
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.errors import InputError, PolicyError, VerificationError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.ethereum.transaction import decode_signed_transaction
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.transport.payload import Payload, decode_payload
from dydx_airgap.shared.transport.secrecy import SEED_NOTICE, carries_secret_seed, file_mode_for

_file = click.Path(path_type=Path, dir_okay=False)


def common_sign_options(func: Any) -> Any:
    for option in reversed(
        [
            account_option,
            click.option("--out", type=_file, required=True, help="Where to write the signed payload."),
            yes_option,
            json_option,
            evidence_log_option,
        ]
    ):
        func = option(func)
    return func


def _variant_row(variant: StarkKeyVariant) -> tuple[str, str]:
    return ("key variant", f"{variant.value} ({variant.description})")


def _load_one_key(kwargs: dict[str, Any], account: int) -> AccountKey:
    return load_one_key(key_source_from(kwargs), account)


def _other_account_message(source: KeySourceOptions, wanted: str, account: int, have: str) -> str:
    """Why a request for another address is refused, and which --account would sign it if any."""
    head = f"refused: the request is for {wanted}, but --account {account} of this key is {have}"
    index = find_account_index(source, wanted)
    if index is not None:
        return f"{head}; {wanted} is --account {index} of this mnemonic: sign with --account {index}"
    if source.keystore is not None:
        return f"{head}; a keystore holds one key: use the keystore of {wanted}"
    if source.derivation_path is not None or source.mnemonic_prompt:
        return f"{head}; check --account (or --path); nothing was signed"
    return f"{head}, and it is none of accounts 0-{ACCOUNT_SEARCH_LIMIT - 1}; nothing was signed"


def _clock(clock_from: Path | None, network: Network, accept_offset: bool) -> Clock:
    if clock_from is None:
        if accept_offset:
            raise InputError("--accept-clock-offset needs --clock-from")
        return LOCAL_CLOCK
    return clock_from_time_payload(clock_from, network.chain_id, accept_offset)


def _verify_signatures(payload: Payload) -> None:
    """Verify every signature in a payload we wrote, as the relay will."""
    body = payload.body
    assert payload.address is not None
    if payload.kind == "onboarding-request":
        verify_onboarding_signature(payload.network_id, body["signature"], payload.address)
    elif payload.kind == "eth-private-request":
        for rung in body["rungs"]:
            verify_eth_private_signature(
                payload.network_id,
                body["method"],
                body["request_path"],
                body["body"],
                rung["timestamp"],
                rung["signature"],
                payload.address,
            )
    elif payload.kind == "v4-signed-tx":
        from dydx_airgap.shared.transport.bodies_v4 import check_signed_tx

        check_signed_tx(body)  # SignDoc -> public key -> address, as the relay and the auditor check it
    elif payload.kind == "signed-tx":
        signed = decode_signed_transaction(bytes.fromhex(body["raw"][2:]))
        if signed.sender_address != payload.address or "0x" + signed.tx_hash.hex() != body["tx_hash"]:
            raise VerificationError("the signed transaction does not recover to this key")
    elif payload.kind == "signed-escape":
        for item in body["transactions"]:
            signed = decode_signed_transaction(bytes.fromhex(item["raw"][2:]))
            if signed.sender_address != payload.address or "0x" + signed.tx_hash.hex() != item["tx_hash"]:
                raise VerificationError("a signed escape transaction does not recover to this key")
    else:
        raise VerificationError(f"cannot verify a {payload.kind} payload")


def finish(
    request: SignedRequest,
    title: str,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    account: int,
    extra_log: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    clock: Clock = LOCAL_CLOCK,
) -> None:
    if out.exists():
        raise InputError(f"{out} already exists: signed payloads are never overwritten; choose another --out")
    p = request.payload
    _verify_signatures(p)  # before anyone is asked to confirm: the bytes we would release are sound
    show(render(title, request.rows, request.notes), to_stderr=as_json)
    for warning in warnings or []:
        click.secho(f"  !! {escape_for_display(warning)}", fg="red", bold=True, err=as_json)
    how = confirm(p.fingerprint, yes)
    # The review may have taken longer than the request's life: never release a request already dead.
    check_not_expired(p.expires, clock, f"this {p.kind}")
    entry = append_entry(
        evidence_log,
        "sign",
        {
            "kind": p.kind,
            "payload_id": p.id,
            "payload_sha256": p.digest.hex(),
            "fingerprint": p.fingerprint,
            "network_id": p.network_id,
            "address": p.address,
            "account": account,
            "eip712_digests": request.eip712_digests,
            "confirmation": how,
            "file": out.name,
            **(extra_log or {}),
        },
    )
    atomic_write_bytes(out, p.to_bytes(), file_mode_for(p.kind))
    again = decode_payload(read_untrusted_file(out))
    if again.to_bytes() != p.to_bytes():
        raise VerificationError(f"{out} does not read back as written")
    _verify_signatures(again)
    head = log_head(entry)
    # For the operator's paper record: `dydx-audit verify --log-head` proves a later bundle still holds it.
    click.echo(f"evidence log {evidence_log.absolute()}: entry {entry['seq']}, head {head}", err=True)
    if carries_secret_seed(p.kind):
        click.echo(f"note: {out} {SEED_NOTICE}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "kind": p.kind,
                    "id": p.id,
                    "fingerprint": p.fingerprint,
                    "file": str(out),
                    "expires": p.expires,
                    "log_head": head,
                }
            )
        )
    else:
        valid = f"  (valid until {p.expires})" if p.expires else ""
        click.echo(f"signed {p.kind} -> {out}  fingerprint {p.fingerprint}{valid}")


@click.group()
def sign() -> None:
    """Sign a dYdX request after a review built from the request itself."""


@sign.command()
@key_source_options
@network_option
@common_sign_options
@click.option("--referral", help="Affiliate link code (sent, not signed).")
@click.option("--country", help="ISO 3166-1 alpha-2 country code (sent, not signed).")
@click.option(
    "--valid-hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(0.01, 24 * 30),
    help="How long the relay may submit it.",
)
@clock_from_option
@accept_clock_offset_option
@variant_option
def onboarding(
    network: Network,
    account: int,
    variant: StarkKeyVariant,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    referral: str | None,
    country: str | None,
    valid_hours: float,
    clock_from: Path | None,
    accept_clock_offset: bool,
    **kwargs: Any,
) -> None:
    """POST /v3/onboarding: register the STARK key with dYdX (signature "dYdX Onboarding").

    WARNING: this signature is also the seed of the default API credentials; whoever holds it can
    compute them.
    """
    from dydx_airgap.offline.keys.cold_key import derive_account
    from dydx_airgap.offline.signing.requests import build_onboarding_request

    clock = _clock(clock_from, network, accept_clock_offset)
    key = _load_one_key(kwargs, account)
    derived = derive_account(key.key, network.chain_id, variant)
    request = build_onboarding_request(
        key.key, network, account, derived, referral, country, timedelta(hours=valid_hours), clock
    )
    request.rows.insert(
        request.rows.index(("STARK public key", f"0x{derived.stark.public_key:064x}")) + 1,
        _variant_row(variant),
    )
    finish(
        request,
        "dYdX onboarding request",
        out,
        yes,
        as_json,
        evidence_log,
        account,
        {"key_variant": variant.value},
        clock=clock,
    )


def _ladder_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--ladder-minutes",
                default=10.0,
                show_default=True,
                type=float,
                help="Sign rungs covering this many minutes from now (0: one rung).",
            ),
            click.option(
                "--ladder-step", default=20, show_default=True, type=int, help="Seconds between rungs."
            ),
            click.option(
                "--start-in",
                default=0.0,
                show_default=True,
                type=float,
                help="Seconds from now (API clock) to the first rung.",
            ),
            clock_from_option,
            accept_clock_offset_option,
            variant_option,
        ]
    ):
        func = option(func)
    return func


def _sign_eth_private(action: str, api_key: str | None, options: dict[str, Any]) -> None:
    """The three ladder commands differ only in action and key id; ``options`` are the click values
    (the key-source ones are left in it for ``load_keys``)."""
    from dydx_airgap.offline.signing.requests import (
        build_eth_private_request,
        eth_private_request_path,
        ladder_timestamps,
    )

    network: Network = options.pop("network")
    account: int = options.pop("account")
    out: Path = options.pop("out")
    yes: bool = options.pop("yes")
    as_json: bool = options.pop("as_json")
    evidence_log: Path = options.pop("evidence_log")
    minutes: float = options.pop("ladder_minutes")
    step: int = options.pop("ladder_step")
    start_in: float = options.pop("start_in")
    clock_from: Path | None = options.pop("clock_from")
    accept_offset: bool = options.pop("accept_clock_offset")
    variant: StarkKeyVariant = options.pop("variant")
    eth_private_request_path(action, api_key)  # validate before asking for any secret
    clock = _clock(clock_from, network, accept_offset)
    timestamps = ladder_timestamps(clock, minutes, step, start_in)
    key = _load_one_key(options, account)
    request = build_eth_private_request(network, key.key, action, api_key, timestamps, clock)
    # Ethereum-key calls sign no STARK key; the review still names the account's, so the operator sees
    # which registered account (and variant) the call acts for.
    from dydx_airgap.offline.keys.cold_key import derive_account

    stark = derive_account(key.key, network.chain_id, variant).stark.public_key
    request.rows.append(("account's STARK key", f"0x{stark:064x}  ({variant.value}; not signed)"))
    finish(
        request,
        f"dYdX {action} request",
        out,
        yes,
        as_json,
        evidence_log,
        account,
        {"key_variant": variant.value},
        clock=clock,
    )


@sign.group("api-key")
def api_key() -> None:
    """Create or delete a dYdX API key (Ethereum-key authenticated)."""


@api_key.command("create")
@key_source_options
@network_option
@common_sign_options
@_ladder_options
def api_key_create(**options: Any) -> None:
    """POST /v3/api-keys, signed as a ladder of timestamps."""
    _sign_eth_private("api-key-create", None, options)


@api_key.command("delete")
@key_source_options
@network_option
@common_sign_options
@_ladder_options
@click.option("--key", "api_key_id", required=True, help="The API key id (UUID) to delete.")
def api_key_delete(api_key_id: str, **options: Any) -> None:
    """DELETE /v3/api-keys?apiKey=<id>, signed as a ladder of timestamps."""
    _sign_eth_private("api-key-delete", api_key_id.strip().lower(), options)


@sign.command("recovery")
@key_source_options
@network_option
@common_sign_options
@_ladder_options
def recovery(**options: Any) -> None:
    """GET /v3/recovery (what an L1 forced exit needs), signed as a ladder of timestamps."""
    _sign_eth_private("recovery", None, options)


@sign.command("tx")
@click.argument("request_file", type=_file)
@key_source_options
@network_option
@common_sign_options
@max_fee_gwei_option
@click.option(
    "--max-cost-eth",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="Refuse a maximum total cost (gas limit x max fee) above this.",
)
@click.option(
    "--max-approve-usdc",
    default=1_000_000.0,
    show_default=True,
    type=click.FloatRange(0, 10**12),
    help="An approve above this (or above the amount the request states) needs --allow-unlimited-approve.",
)
@click.option(
    "--allow-unlimited-approve",
    is_flag=True,
    help="Accept an allowance above --max-approve-usdc or the stated amount, 2^256-1 included.",
)
@variant_option
def sign_tx(
    request_file: Path,
    network: Network,
    account: int,
    variant: StarkKeyVariant,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    max_fee_gwei: float,
    max_cost_eth: float,
    max_approve_usdc: float,
    allow_unlimited_approve: bool,
    **kwargs: Any,
) -> None:
    """Sign a register / approve / deposit transaction the relay prepared (a tx-request payload)."""
    from decimal import Decimal

    from dydx_airgap.offline.signing.transactions import (
        ETH,
        GWEI,
        TxPolicy,
        review_tx_request,
        signed_tx_payload,
    )

    request = decode_payload(read_untrusted_file(request_file))
    policy = TxPolicy(
        max_fee_per_gas_wei=int(Decimal(str(max_fee_gwei)) * GWEI),
        max_cost_wei=int(Decimal(str(max_cost_eth)) * ETH),
        allow_unlimited_approve=allow_unlimited_approve,
        max_approve_base_units=int(Decimal(str(max_approve_usdc)) * 10**6),
    )
    source = key_source_from(kwargs)
    key = load_one_key(source, account)
    if request.address is not None and not same_address(request.address, key.key.address):
        raise PolicyError(_other_account_message(source, request.address, account, key.key.address))
    reviewed = review_tx_request(request, network, key.key, policy, variant)
    signed = key.key.sign_transaction(reviewed.transaction)
    payload = signed_tx_payload(key.key, request, signed, request.body["action"])
    rows = [
        ("request", f"{request.kind} {request.id} (fingerprint {request.fingerprint})"),
        *reviewed.rows,
        ("transaction hash", payload.body["tx_hash"]),
        ("fingerprint", payload.fingerprint),
    ]
    finish(
        SignedRequest(payload, [], rows, reviewed.notes),
        f"{request.body['action']} transaction",
        out,
        yes,
        as_json,
        evidence_log,
        account,
        {
            "tx_hash": payload.body["tx_hash"],
            "request_sha256": request.digest.hex(),
            "key_variant": variant.value,
            "policy": {
                "max_fee_per_gas_wei": policy.max_fee_per_gas_wei,
                "max_cost_wei": policy.max_cost_wei,
                "allow_unlimited_approve": policy.allow_unlimited_approve,
                "max_approve_base_units": policy.max_approve_base_units,
            },
        },
    )


@sign.command("escape")
@click.argument("request_file", type=_file)
@key_source_options
@network_option
@common_sign_options
@max_fee_gwei_option
@click.option(
    "--max-total-cost-eth",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="Refuse transactions whose maximum total cost (sum of gas limit x max fee) is above this "
    "(verifyEscape alone uses about 2.5 M gas).",
)
@click.option(
    "--allow-withdraw-to",
    is_flag=True,
    help="Sign a withdrawTo that pays an address other than the registered one (shown in red).",
)
def sign_escape(
    request_file: Path,
    network: Network,
    account: int,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    max_fee_gwei: float,
    max_total_cost_eth: float,
    allow_withdraw_to: bool,
    **kwargs: Any,
) -> None:
    """Verify a dYdX v3 escape proof and sign its transactions (an escape-request from 'dydx-relay escape
    prepare'): the proof is checked here with the contract's own checks, its STARK key must be this key's
    (any wallet variant), the amount is computed here, and every calldata is rebuilt from the verified
    proof."""
    from dydx_airgap.offline.signing.escape import review_escape_request, signed_escape_payload
    from dydx_airgap.offline.signing.transactions import ETH, GWEI, TxPolicy

    request = decode_payload(read_untrusted_file(request_file))
    if request.kind != "escape-request":
        raise InputError(
            f"{request_file} is a {request.kind} payload; 'sign escape' takes the escape-request written by "
            "'dydx-relay escape prepare'"
        )
    policy = TxPolicy(
        max_fee_per_gas_wei=int(Decimal(str(max_fee_gwei)) * GWEI),
        max_cost_wei=int(Decimal(str(max_total_cost_eth)) * ETH),
        allow_unlimited_approve=False,
        max_approve_base_units=0,
    )
    source = key_source_from(kwargs)
    key = load_one_key(source, account)
    if request.address is not None and not same_address(request.address, key.key.address):
        raise PolicyError(_other_account_message(source, request.address, account, key.key.address))
    reviewed = review_escape_request(request, network, key.key, policy, allow_withdraw_to)
    signed = [(action, key.key.sign_transaction(tx)) for action, tx in reviewed.transactions]
    payload = signed_escape_payload(key.key, request, signed)
    rows = [
        ("request", f"{request.kind} {request.id} (fingerprint {request.fingerprint})"),
        *reviewed.rows,
        *((f"hash ({action})", "0x" + tx.tx_hash.hex()) for action, tx in signed),
        ("fingerprint", payload.fingerprint),
    ]
    finish(
        SignedRequest(payload, [], rows, reviewed.notes),
        f"escape of position {reviewed.verified.position_id}",
        out,
        yes,
        as_json,
        evidence_log,
        account,
        {
            "tx_hashes": ["0x" + tx.tx_hash.hex() for _, tx in signed],
            "request_sha256": request.digest.hex(),
            "key_variant": reviewed.variant.value,
            "escape": {
                "position_id": str(reviewed.verified.position_id),
                "stark_key": f"0x{reviewed.verified.stark_key:064x}",
                "amount": str(reviewed.verified.amount),
                "fact": "0x" + reviewed.verified.fact.hex(),
                "recipient": request.body["recipient"],
            },
            "policy": {
                "max_fee_per_gas_wei": policy.max_fee_per_gas_wei,
                "max_cost_wei": policy.max_cost_wei,
            },
        },
        warnings=reviewed.warnings,
    )


@sign.command("v4")
@click.argument("request_file", type=_file)
@key_source_options
@v4_mnemonic_options
@v4_network_option
@common_sign_options
@click.option(
    "--max-fee",
    "max_fee",
    default=str(DEFAULT_MAX_FEE_USDC),
    show_default=True,
    help="Refuse a fee above this many USDC (fee in the USDC denom).",
)
@click.option(
    "--max-fee-native",
    default=str(DEFAULT_MAX_FEE_NATIVE),
    show_default=True,
    help="Refuse a fee above this many DYDX (mainnet) / DV4TNT (testnet) (fee in the native denom).",
)
@click.option(
    "--max-timeout-blocks",
    default=DEFAULT_MAX_TIMEOUT_BLOCKS,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Refuse a timeout height further than this past the relay's latest height.",
)
@click.option(
    "--allow-recipient",
    "allow_recipient",
    multiple=True,
    help="Allow funds to leave this account to this dydx1... address (repeatable; shown in red).",
)
@click.option(
    "--allow-unsafe-authenticator",
    is_flag=True,
    help="Sign an authenticator under which the key can do more than place/cancel orders (recorded).",
)
def sign_v4(
    request_file: Path,
    v4_network: V4Network,
    account: int,
    out: Path,
    yes: bool,
    as_json: bool,
    evidence_log: Path,
    max_fee: str,
    max_fee_native: str,
    max_timeout_blocks: int,
    allow_recipient: tuple[str, ...],
    allow_unsafe_authenticator: bool,
    **kwargs: Any,
) -> None:
    """Sign a dYdX v4 (dYdX Chain) transaction the relay asked for (a v4-tx-request payload).

    The transaction is rebuilt here from the request's fields, reviewed in words and signed
    SIGN_MODE_DIRECT; only MsgAddAuthenticator, MsgRemoveAuthenticator, MsgDepositToSubaccount,
    MsgWithdrawFromSubaccount, MsgCreateTransfer and bank MsgSend are signed.
    """
    from dydx_airgap.offline.review.v4_review import NATIVE_DECIMALS, USDC_DECIMALS, V4Policy, to_base_units
    from dydx_airgap.offline.signing.v4_transactions import load_v4_signer, sign_v4_request
    from dydx_airgap.shared.dydx_v4.address import check_address

    policy = V4Policy(
        max_fee_usdc=to_base_units(_decimal_option("--max-fee", max_fee), USDC_DECIMALS),
        max_fee_native=to_base_units(_decimal_option("--max-fee-native", max_fee_native), NATIVE_DECIMALS),
        max_timeout_blocks=max_timeout_blocks,
        allowed_recipients=frozenset(check_address(a) for a in allow_recipient),
        allow_unsafe_authenticator=allow_unsafe_authenticator,
    )
    request = decode_payload(read_untrusted_file(request_file))
    if out.exists():
        raise InputError(f"{out} already exists: signed payloads are never overwritten; choose another --out")
    signer = load_v4_signer(v4_network, key_source_from(kwargs), v4_mnemonic_from(kwargs), account)
    signed = sign_v4_request(request, v4_network, signer, policy)
    p = signed.payload
    rows = [
        ("request", f"{request.kind} {request.id} (fingerprint {request.fingerprint})"),
        *signed.review.rows,
        ("transaction hash", p.body["tx_hash"]),
        ("fingerprint", p.fingerprint),
    ]
    finish(
        SignedRequest(p, [], rows, signed.review.notes),
        f"dYdX v4 {v4_network.name} transaction",
        out,
        yes,
        as_json,
        evidence_log,
        account,
        {
            "venue": "dydx-v4",
            "v4_chain_id": p.body["chain_id"],
            "v4_address": p.body["address"],
            "v4_account_number": p.body["account_number"],
            "v4_sequence": p.body["sequence"],
            "v4_timeout_height": p.body["timeout_height"],
            "v4_key_source": signer.key_source,
            "message_types": [m["type_url"] for m in request.body["tx"]["messages"]],
            "sign_doc_sha256": p.body["sign_doc_sha256"],
            "tx_hash": p.body["tx_hash"],
            "request_sha256": request.digest.hex(),
            "overrides": signed.review.overrides,
            "policy": {
                "max_fee_usdc_quantums": policy.max_fee_usdc,
                "max_fee_native": str(policy.max_fee_native),
                "max_timeout_blocks": policy.max_timeout_blocks,
                "allowed_recipients": sorted(policy.allowed_recipients),
                "allow_unsafe_authenticator": policy.allow_unsafe_authenticator,
            },
        },
        warnings=signed.review.warnings,
    )


def _decimal_option(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise InputError(f"{name} must be a decimal number, like 0.25") from None
    if not value.is_finite() or value < 0:
        raise InputError(f"{name} must be a non-negative decimal number")
    return value
