"""``dydx-relay v4 prepare KIND``: the fields of one cold-signed dYdX Chain transaction, from a node's facts.

The cold machine cannot know the account number, the sequence, the chain's height or the gas a message
uses; the relay reads them from ``--node`` and writes a ``v4-tx-request`` the cold side reviews and signs
(``dydx-offline sign v4``). What the relay adds is checked before anything is written, so a request that
the chain would refuse for a reason visible now (no account yet, smart accounts off, too little USDC in the
bank or the subaccount, an authenticator id the account does not have) is refused here, with the reason,
instead of after a trip across the air gap.

The account itself comes from the cold side's ``v4-public-key`` payload (origin-signed, verified on
decoding): its address, compressed key, chain id and the Ethereum address the request is addressed to. The
node must serve that chain, and if the chain already stores a key for the account, it must be that key.

The fee is the node's simulated gas for this very body (``fees.quote_fee``); the timeout height is the latest
height plus a bounded ``--expires-in`` (``expiry``). For ``add-trading-key`` the tree is the recipe of spec
§B3 (``authenticators.trading_key_recipe``): the hot key may place and cancel orders on one subaccount and
nothing else; it is judged with the same verdict the cold review uses, and an unsafe tree is never built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dydx_airgap.online.relay.target import parse_node_url
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.online.v4.expiry import Expiry, expiry_from
from dydx_airgap.online.v4.fees import FeeQuote, quote_fee
from dydx_airgap.online.v4.journal import V4Journal
from dydx_airgap.online.v4.node import AccountInfo, V4Node
from dydx_airgap.shared.dydx_v4 import authenticators as a
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.address import check_address, check_compressed_pubkey, dydx_address
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import V4Network, network_by_chain_id
from dydx_airgap.shared.dydx_v4.request import fields_from_unsigned
from dydx_airgap.shared.dydx_v4.tx import AuthInfo, Fee, SignerInfo, TxBody, UnsignedTx
from dydx_airgap.shared.errors import AirgapError, InputError, PolicyError
from dydx_airgap.shared.fsutil import atomic_write_bytes, read_untrusted_file
from dydx_airgap.shared.transport.payload import Payload, decode_payload, new_payload

KINDS = ("add-trading-key", "remove-trading-key", "deposit", "withdraw", "transfer", "send")
USDC_DECIMALS = 6
#: A hot key file is a few hundred bytes; anything larger is not one.
MAX_HOT_KEY_FILE = 16 << 10
_HEX_KEY = re.compile(r"(?:0x)?(0[23][0-9a-fA-F]{64})")
FEE_DENOMS = ("usdc", "native")

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class V4Account:
    """The cold account a request is for, as its ``v4-public-key`` payload states it."""

    network: V4Network
    address: str
    public_key: bytes
    origin_address: str  # the Ethereum(-style) address the cold side origin-signs with

    @classmethod
    def from_payload(cls, payload: Payload) -> V4Account:
        if payload.kind != "v4-public-key":
            raise InputError(
                f"--public-key must be the cold side's v4-public-key payload, not a {payload.kind}"
            )
        assert payload.address is not None  # the validator requires it of origin-signed kinds
        body = payload.body
        return cls(
            network_by_chain_id(body["chain_id"]),
            body["address"],
            bytes.fromhex(body["public_key"]),
            payload.address,
        )


def load_account(path: Path) -> V4Account:
    return V4Account.from_payload(decode_payload(read_untrusted_file(path)))


def parse_usdc(text: str, flag: str = "--amount") -> int:
    """Exact USDC text (at most 6 decimals) in quantums; no float anywhere."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"{flag} {text[:40]!r} is not a decimal USDC amount like 250 or 1250.50") from None
    scaled = value * 10**USDC_DECIMALS
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise InputError(f"{flag} {text[:40]!r} has more than {USDC_DECIMALS} decimals")
    if scaled <= 0 or scaled >= 2**64:
        raise InputError(f"{flag} must be a positive USDC amount")
    return int(scaled)


def usdc(quantums: int) -> str:
    whole, frac = divmod(quantums, 10**USDC_DECIMALS)
    return (f"{whole}.{frac:06d}".rstrip("0").rstrip(".")) + " USDC"


def parse_hot_key(value: str) -> bytes:
    """The hot key's 33-byte compressed public key: hex on the command line, or the trading host's file.

    The file is either the hex alone or a JSON object whose ``public_key`` is that hex (what a trading host
    exports). A private key is never accepted here: a 32-byte value is refused by length.
    """
    text = value.strip()
    match = _HEX_KEY.fullmatch(text)
    if match is None:
        path = Path(value)
        if not path.is_file():
            raise InputError(
                "--hot-key is neither a 33-byte compressed public key in hex nor a readable file"
            )
        raw = read_untrusted_file(path, cap=MAX_HOT_KEY_FILE)
        try:
            content = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(f"--hot-key file {path.name[:60]!r} is not text") from None
        if content.startswith("{"):
            try:
                document = json.loads(content)
            except (ValueError, RecursionError):
                raise InputError(f"--hot-key file {path.name[:60]!r} is not JSON") from None
            inner = document.get("public_key") if isinstance(document, dict) else None
            content = inner.strip() if isinstance(inner, str) else ""
        match = _HEX_KEY.fullmatch(content)
        if match is None:
            raise InputError(
                f"--hot-key file {path.name[:60]!r} holds no 33-byte compressed public key "
                "(hex, or JSON with a public_key field)"
            )
    key = bytes.fromhex(match.group(1).lower())
    check_compressed_pubkey(key)
    return key


@dataclass(frozen=True)
class PrepareOptions:
    kind: str
    node_url: str
    account_file: Path
    out: Path
    expires_in: int
    state_dir: Path | None = None
    amount: str | None = None
    to: str | None = None
    subaccount: int = 0
    to_subaccount: int | None = None
    hot_key: str | None = None
    authenticator_id: int | None = None
    fee_denom: str = "usdc"
    memo: str = ""
    timeout: float = 20.0
    report: Reporter = lambda line: None
    node_factory: Callable[[Any, V4Network], V4Node] | None = None


@dataclass
class PreparedV4:
    kind: str
    account: V4Account
    payload: Payload
    out: Path
    chain: AccountInfo
    expiry: Expiry
    quote: FeeQuote
    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hot_public_key: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        tx = self.payload.body["tx"]
        return {
            "kind": self.kind,
            "request_id": self.payload.id,
            "fingerprint": self.payload.fingerprint,
            "file": str(self.out),
            "chain_id": tx["chain_id"],
            "address": tx["signer_address"],
            "account_number": tx["account_number"],
            "sequence": tx["sequence"],
            "latest_height": self.expiry.latest_height,
            "timeout_height": self.expiry.timeout_height,
            "gas_used": self.quote.gas_used,
            "gas_limit": self.quote.gas_limit,
            "fee": {"denom": self.quote.fee.denom, "amount": str(self.quote.fee.amount)},
            "expires": self.payload.expires,
            "hot_public_key": None if self.hot_public_key is None else self.hot_public_key.hex(),
            "notes": list(self.notes),
        }


class _Preparer:
    def __init__(self, options: PrepareOptions, node: V4Node, account: V4Account) -> None:
        self.options = options
        self.node = node
        self.account = account
        self.rows: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.hot_public_key: bytes | None = None
        self.bank_outflow = 0  # USDC (bank) the messages themselves spend, before the fee

    def amount(self) -> int:
        if self.options.amount is None:
            raise InputError(f"v4 prepare {self.options.kind} needs --amount (USDC, e.g. 250.5)")
        return parse_usdc(self.options.amount)

    def no_extra(self, *names: str) -> None:
        given = {
            "--amount": self.options.amount,
            "--to": self.options.to,
            "--to-subaccount": self.options.to_subaccount,
            "--hot-key": self.options.hot_key,
            "--id": self.options.authenticator_id,
        }
        for flag in names:
            if given[flag] is not None:
                raise InputError(f"v4 prepare {self.options.kind} takes no {flag}")

    def recipient(self) -> str:
        if self.options.to is None:
            return self.account.address
        return check_address(self.options.to.strip())

    def subaccount_usdc(self, number: int, needed: int) -> None:
        sub = self.node.subaccount(self.account.address, number)
        self.rows.append(
            (f"subaccount {number}", f"{usdc(sub.usdc_quantums)}, {sub.perpetual_positions} position(s)")
        )
        if sub.usdc_quantums < needed:
            raise PolicyError(
                f"subaccount {number} of {self.account.address} holds {usdc(sub.usdc_quantums)}, less than "
                f"the {usdc(needed)} asked; nothing was prepared"
            )
        if sub.perpetual_positions:
            self.notes.append(
                f"subaccount {number} has {sub.perpetual_positions} open position(s): the chain refuses a "
                "withdrawal or transfer that leaves it under its margin requirement"
            )

    def trading_key(self) -> m.Message:
        self.no_extra("--amount", "--to", "--to-subaccount", "--id")
        if self.options.hot_key is None:
            raise InputError("v4 prepare add-trading-key needs --hot-key (the trading host's public key)")
        hot = parse_hot_key(self.options.hot_key)
        if hot == self.account.public_key:
            raise PolicyError("--hot-key is the cold account's own key: a trading key must be another key")
        tree = a.trading_key_recipe(hot, self.options.subaccount)
        verdict = a.classify(tree, hot)
        if not verdict.safe:  # the recipe is safe by construction; this guards against its change
            raise PolicyError(f"the trading-key tree is not safe for a hot key: {verdict.reason}")
        type_name, data = a.encode_authenticator(tree)
        existing = [
            x.id
            for x in self.node.authenticators(self.account.address)
            if (x.type, x.config) == (type_name, data)
        ]
        if existing:
            self.notes.append(
                f"this account already authorises this hot key with the same tree (id {existing[-1]}); "
                "adding it again makes a second id"
            )
        self.hot_public_key = hot
        self.rows += [
            ("hot key", f"{hot.hex()}  = {dydx_address(hot)}"),
            (
                "may",
                f"place, cancel and batch-cancel orders on subaccount {self.options.subaccount}; "
                "nothing else",
            ),
            ("tree", f"{type_name}, {len(data)} bytes (spec §B3 recipe)"),
        ]
        return m.MsgAddAuthenticator(self.account.address, type_name, data)

    def remove_key(self) -> m.Message:
        self.no_extra("--amount", "--to", "--to-subaccount", "--hot-key")
        ident = self.options.authenticator_id
        if ident is None:
            raise InputError("v4 prepare remove-trading-key needs --id (the authenticator id to remove)")
        listed = {x.id: x for x in self.node.authenticators(self.account.address)}
        if ident not in listed:
            shown = ", ".join(str(i) for i in sorted(listed)) or "none"
            raise PolicyError(
                f"{self.account.address} has no authenticator {ident} (it has: {shown}); nothing was prepared"
            )
        self.rows.append(("removes", f"authenticator {ident} ({listed[ident].type})"))
        return m.MsgRemoveAuthenticator(self.account.address, ident)

    def message(self) -> m.Message:
        kind, own, sub = self.options.kind, self.account.address, self.options.subaccount
        if kind == "add-trading-key":
            return self.trading_key()
        if kind == "remove-trading-key":
            return self.remove_key()
        quantums = self.amount()
        if kind == "deposit":
            self.no_extra("--to", "--to-subaccount", "--hot-key", "--id")
            self.bank_outflow = quantums
            self.rows.append(("deposit", f"{usdc(quantums)} from the bank balance to subaccount {sub}"))
            return m.MsgDepositToSubaccount(own, m.SubaccountId(own, sub), m.USDC_ASSET_ID, quantums)
        if kind == "withdraw":
            self.no_extra("--to-subaccount", "--hot-key", "--id")
            to = self.recipient()
            self.subaccount_usdc(sub, quantums)
            self.rows.append(("withdraw", f"{usdc(quantums)} from subaccount {sub} to {to}"))
            return m.MsgWithdrawFromSubaccount(m.SubaccountId(own, sub), to, m.USDC_ASSET_ID, quantums)
        if kind == "transfer":
            self.no_extra("--hot-key", "--id")
            to, to_sub = self.recipient(), self.options.to_subaccount
            if to_sub is None:
                raise InputError(
                    "v4 prepare transfer needs --to-subaccount (the receiving subaccount number)"
                )
            if (to, to_sub) == (own, sub):
                raise InputError("a transfer from a subaccount to itself moves nothing")
            self.subaccount_usdc(sub, quantums)
            self.rows.append(
                ("transfer", f"{usdc(quantums)} from subaccount {sub} to subaccount {to_sub} of {to}")
            )
            return m.MsgCreateTransfer(
                m.Transfer(m.SubaccountId(own, sub), m.SubaccountId(to, to_sub), m.USDC_ASSET_ID, quantums)
            )
        self.no_extra("--to-subaccount", "--hot-key", "--id")
        if self.options.to is None:
            raise InputError("v4 prepare send needs --to (the receiving dydx1… address)")
        to = self.recipient()
        self.bank_outflow = quantums
        self.rows.append(("send", f"{usdc(quantums)} from the bank balance to {to}"))
        return m.MsgSend(own, to, (Coin(self.node.network.usdc_denom, quantums),))


def _fee_denom(network: V4Network, choice: str) -> str:
    if choice not in FEE_DENOMS:
        raise InputError(f"--fee-denom is usdc or native, not {choice[:20]!r}")
    return network.usdc_denom if choice == "usdc" else network.native_denom


def _build(
    options: PrepareOptions, node: V4Node, account: V4Account
) -> tuple[_Preparer, UnsignedTx, AccountInfo, Expiry, FeeQuote]:
    network = account.network
    block = node.latest_block()  # refuses a node of another chain
    chain = node.account(account.address)
    if chain is None:
        raise PolicyError(
            f"{account.address} has no account on {network.chain_id} yet: it gets one (and its account "
            "number) when it first receives funds; fund it, then prepare again"
        )
    if chain.pub_key is not None and chain.pub_key != account.public_key:
        raise PolicyError(f"the chain stores another public key for {account.address} than the cold side's")
    active = node.smart_accounts_active()
    if options.kind in ("add-trading-key", "remove-trading-key") and not active:
        raise PolicyError(
            f"smart accounts (authenticators) are not active on {network.chain_id}: a trading key cannot be "
            "added or removed now; nothing was prepared"
        )
    preparer = _Preparer(options, node, account)
    message = preparer.message()
    expiry = expiry_from(block.height, options.expires_in)
    body = TxBody((message,), memo=options.memo, timeout_height=expiry.timeout_height)
    denom = _fee_denom(network, options.fee_denom)
    quote = quote_fee(node, body, account.public_key, chain.sequence, denom)
    bank_usdc = node.balance(account.address, network.usdc_denom)
    needed_usdc = preparer.bank_outflow + (quote.fee.amount if denom == network.usdc_denom else 0)
    if bank_usdc < needed_usdc:
        raise PolicyError(
            f"{account.address} holds {usdc(bank_usdc)} in its bank balance, less than the "
            f"{usdc(needed_usdc)} this transaction spends with its fee; nothing was prepared"
        )
    if denom == network.native_denom and node.balance(account.address, denom) < quote.fee.amount:
        raise PolicyError(
            f"{account.address} cannot pay the fee of {quote.fee.amount} {denom}; nothing was prepared"
        )
    unsigned = UnsignedTx(
        body,
        AuthInfo((SignerInfo(account.public_key, chain.sequence),), Fee(quote.fee_coins, quote.gas_limit)),
        network.chain_id,
        chain.account_number,
    )
    return preparer, unsigned, chain, expiry, quote


def prepare_v4(options: PrepareOptions) -> PreparedV4:
    """Read the node, check, build, journal and write the request (see the module docstring)."""
    if options.kind not in KINDS:
        raise InputError(f"unknown v4 transaction kind {options.kind[:40]!r} (known: {', '.join(KINDS)})")
    target = parse_node_url(options.node_url)
    account = load_account(options.account_file)
    if options.out.exists():
        raise InputError(f"{options.out} already exists; choose another --out (a request is written once)")
    factory = options.node_factory or (
        lambda t, n: V4Node(t, n, timeout=options.timeout, report=options.report)
    )
    with factory(target, account.network) as node:
        preparer, unsigned, chain, expiry, quote = _build(options, node, account)
    body = {
        "tx": fields_from_unsigned(unsigned),
        "latest_height": expiry.latest_height,
        "source": f"dydx-relay v4 prepare {options.kind} via {target.origin}"[:200],
    }
    payload = new_payload(
        "v4-tx-request",
        account.network.eip712_chain_id,
        account.origin_address,
        body,
        expires_in=timedelta(seconds=options.expires_in),
    )
    with locked_state_dir(options.state_dir) as directory, V4Journal.open(directory) as journal:
        journal.add_request(payload, options.kind, target.origin)
        try:
            atomic_write_bytes(options.out, payload.to_bytes())
        except (OSError, AirgapError):
            journal.forget_request(payload.id)  # it never left the relay
            raise
    rows = [
        ("account", f"{account.address}  (account number {chain.account_number}, sequence {chain.sequence})"),
        *preparer.rows,
        ("gas", f"simulated {quote.gas_used}, limit {quote.gas_limit}"),
        ("fee", f"{quote.fee.amount} {quote.fee.denom}"),
        (
            "timeout height",
            f"{expiry.timeout_height} (latest {expiry.latest_height} + {expiry.blocks} blocks)",
        ),
    ]
    return PreparedV4(
        options.kind,
        account,
        payload,
        options.out,
        chain,
        expiry,
        quote,
        rows,
        preparer.notes,
        preparer.hot_public_key,
    )
