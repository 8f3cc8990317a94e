"""The review of a dYdX v4 transaction request, built from the transaction the cold side will sign.

The relay sends fields; ``unsigned_from_fields`` turns them into the typed transaction whose bytes are
signed, and every row here is read off that object — never off text the relay wrote for display. What the
chain itself would accept is checked by the shared parser; this module adds what the *operator* should
accept, and refuses the rest with the field named:

* the environment, account and key are this cold account's (chain id, signer address and public key);
* a timeout height is set and bounded: a cold transaction carried by hand must expire;
* the fee is in one of the environment's fee denoms and under the operator's cap;
* funds that leave the account (a withdrawal, transfer, deposit or send to another address) are shown in
  red and need ``--allow-recipient ADDRESS`` naming that address;
* an authenticator tree is parsed whole and judged: by default only trees under which the hot key can do
  nothing but place and cancel orders are signed (spec headline 1) — ``--allow-unsafe-authenticator``
  signs the others, in red, and is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from dydx_airgap.offline.review.firewall import screen
from dydx_airgap.shared.dydx_v4 import authenticators as auth
from dydx_airgap.shared.dydx_v4 import messages as m
from dydx_airgap.shared.dydx_v4.address import dydx_address
from dydx_airgap.shared.dydx_v4.coins import Coin
from dydx_airgap.shared.dydx_v4.networks import V4Network
from dydx_airgap.shared.dydx_v4.request import unsigned_from_fields
from dydx_airgap.shared.dydx_v4.tx import UnsignedTx
from dydx_airgap.shared.errors import AirgapError, FormatError, PolicyError
from dydx_airgap.shared.ethereum.address import same_address
from dydx_airgap.shared.transport.payload import Payload

USDC_DECIMALS = 6
NATIVE_DECIMALS = 18
NATIVE_SYMBOLS = {"adydx": "DYDX", "adv4tnt": "DV4TNT"}
#: ~1 s blocks (spec §B7): 14400 blocks is about four hours for a QR code to travel and be broadcast.
DEFAULT_MAX_TIMEOUT_BLOCKS = 14_400
DEFAULT_MAX_FEE_USDC = Decimal("0.1")
DEFAULT_MAX_FEE_NATIVE = Decimal("0.1")


@dataclass(frozen=True)
class V4Policy:
    max_fee_usdc: int  # USDC base units (quantums)
    max_fee_native: int  # base units of the native denom (18 decimals)
    max_timeout_blocks: int = DEFAULT_MAX_TIMEOUT_BLOCKS
    allowed_recipients: frozenset[str] = frozenset()
    allow_unsafe_authenticator: bool = False


@dataclass
class V4Review:
    unsigned: UnsignedTx
    rows: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown in red
    notes: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)  # what an allow flag let through (evidence log)


def _refuse(what: str, why: str) -> PolicyError:
    return PolicyError(f"refused: {what} {why}; nothing was signed")


def decimal_units(amount: int, decimals: int) -> str:
    """Exact decimal text of an integer amount of base units: no float anywhere."""
    whole, frac = divmod(amount, 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")
    return text


def to_base_units(text: Decimal, decimals: int) -> int:
    scaled = text * (10**decimals)
    if scaled != scaled.to_integral_value() or scaled < 0:
        raise PolicyError(f"{text} has more than {decimals} decimals or is negative")
    return int(scaled)


def usdc_text(quantums: int) -> str:
    return f"{decimal_units(quantums, USDC_DECIMALS)} USDC ({quantums} quantums)"


def coin_text(coin: Coin, network: V4Network) -> str:
    if coin.denom == network.usdc_denom:
        return f"{decimal_units(coin.amount, USDC_DECIMALS)} USDC ({coin.amount} {coin.denom})"
    symbol = NATIVE_SYMBOLS.get(coin.denom)
    if coin.denom == network.native_denom and symbol is not None:
        return f"{decimal_units(coin.amount, NATIVE_DECIMALS)} {symbol} ({coin.amount} {coin.denom})"
    return f"{coin.amount} {coin.denom} (a denomination this toolkit does not know)"


class _Reviewer:
    def __init__(self, unsigned: UnsignedTx, network: V4Network, own: str, policy: V4Policy) -> None:
        self.review = V4Review(unsigned)
        self.network = network
        self.own = own
        self.policy = policy

    def who(self, address: str) -> str:
        return f"{address}  (this account)" if address == self.own else f"{address}  (ANOTHER ACCOUNT)"

    def subaccount(self, s: m.SubaccountId) -> str:
        return f"subaccount {s.number} of {self.who(s.owner)}"

    def leaves(self, i: int, what: str, recipient: str) -> None:
        """Funds go to an account that is not this one: red, and only with --allow-recipient naming it."""
        if recipient == self.own:
            return
        if recipient not in self.policy.allowed_recipients:
            raise _refuse(
                f"message {i + 1}",
                f"sends funds to {recipient}, not to this account {self.own}: if that is intended, pass "
                f"--allow-recipient {recipient}",
            )
        self.review.warnings.append(f"message {i + 1}: {what} to {recipient}, which is NOT this account")
        self.review.overrides.append(f"allow-recipient {recipient}")

    def message(self, i: int, msg: m.Message) -> None:
        label = f"message {i + 1}"
        rows = self.review.rows
        if isinstance(msg, m.MsgWithdrawFromSubaccount):
            rows += [
                (label, "WITHDRAW from a subaccount to a bank balance (MsgWithdrawFromSubaccount)"),
                ("  from", self.subaccount(msg.sender)),
                ("  to", self.who(msg.recipient)),
                ("  amount", usdc_text(msg.quantums)),
            ]
            self.leaves(i, f"a withdrawal of {usdc_text(msg.quantums)}", msg.recipient)
        elif isinstance(msg, m.MsgDepositToSubaccount):
            rows += [
                (label, "DEPOSIT from the bank balance into a subaccount (MsgDepositToSubaccount)"),
                ("  from", self.who(msg.sender)),
                ("  to", self.subaccount(msg.recipient)),
                ("  amount", usdc_text(msg.quantums)),
            ]
            self.leaves(i, f"a deposit of {usdc_text(msg.quantums)}", msg.recipient.owner)
        elif isinstance(msg, m.MsgCreateTransfer):
            t = msg.transfer
            rows += [
                (label, "TRANSFER between subaccounts (MsgCreateTransfer)"),
                ("  from", self.subaccount(t.sender)),
                ("  to", self.subaccount(t.recipient)),
                ("  amount", usdc_text(t.amount)),
            ]
            self.leaves(i, f"a transfer of {usdc_text(t.amount)}", t.recipient.owner)
        elif isinstance(msg, m.MsgSend):
            amounts = ", ".join(coin_text(c, self.network) for c in msg.amount)
            rows += [
                (label, "SEND from the bank balance (bank MsgSend)"),
                ("  from", self.who(msg.from_address)),
                ("  to", self.who(msg.to_address)),
                ("  amount", amounts),
            ]
            self.leaves(i, f"a send of {amounts}", msg.to_address)
        elif isinstance(msg, m.MsgRemoveAuthenticator):
            rows += [
                (label, "REMOVE an authenticator (MsgRemoveAuthenticator)"),
                ("  account", self.who(msg.sender)),
                ("  authenticator id", str(msg.id)),
            ]
            self.review.notes.append(
                f"After message {i + 1}, the key behind authenticator {msg.id} can no longer act for "
                "this account."
            )
        else:
            self.authenticator(i, msg)

    def authenticator(self, i: int, msg: m.MsgAddAuthenticator) -> None:
        label = f"message {i + 1}"
        try:
            tree = auth.parse_authenticator(msg.authenticator_type, msg.data)
        except FormatError as exc:
            raise _refuse(f"{label}'s authenticator", f"cannot be parsed: {exc.message}") from None
        keys = sorted(_signature_keys(tree))
        verdict = judge_authenticator(tree)
        rows = self.review.rows
        rows += [
            (label, "AUTHORISE A KEY to act for this account (MsgAddAuthenticator)"),
            ("  account", self.who(msg.sender)),
            ("  config", f"{len(msg.data)} bytes"),
        ]
        for key in keys:
            rows.append(("  key", f"{key.hex()}  = {dydx_address(key)}"))
        for line in describe_tree(tree):
            rows.append(("  tree", line))
        rows.append(("  verdict", ("SAFE: " if verdict.safe else "UNSAFE: ") + verdict.reason))
        if not verdict.chain_accepts:
            raise _refuse(f"{label}'s authenticator", "would be refused by the chain: " + verdict.reason)
        if not verdict.safe:
            if not self.policy.allow_unsafe_authenticator:
                raise _refuse(
                    f"{label}'s authenticator",
                    f"is unsafe to hand to a hot key ({verdict.reason}); pass --allow-unsafe-authenticator "
                    "only if the key it authorises is as well kept as this one",
                )
            self.review.warnings.append(
                f"message {i + 1}: the authorised key can do MORE than place and cancel orders: "
                + verdict.reason
            )
            self.review.overrides.append("allow-unsafe-authenticator")
        self.review.notes.append(
            "A hot key under an authenticator signs with this account's number and shares its sequence: "
            "its stateful orders bump the sequence and invalidate cold transactions in flight; keep it to "
            "short-term orders (spec §A5, §B7)."
        )


def judge_authenticator(tree: auth.Authenticator) -> auth.Verdict:
    """The safety verdict the review applies (and selftest checks against the vectors): with one key in
    the tree, every path must need *that* key's signature; with several, each path some key's."""
    keys = sorted(_signature_keys(tree))
    return auth.classify(tree, keys[0] if len(keys) == 1 else None)


def _signature_keys(node: auth.Authenticator) -> set[bytes]:
    if isinstance(node, auth.SignatureVerification):
        return {node.public_key}
    if isinstance(node, auth.AllOf | auth.AnyOf):
        return set().union(*(_signature_keys(sub) for sub in node.subs))
    return set()


def describe_tree(node: auth.Authenticator, depth: int = 0) -> list[str]:
    """One line per node, indented by depth, saying in words what each node checks."""
    pad = "  " * depth
    if isinstance(node, auth.SignatureVerification):
        return [f"{pad}signature of key {node.public_key.hex()[:16]}…"]
    if isinstance(node, auth.MessageFilter):
        return [f"{pad}message type is one of: {', '.join(node.type_urls)}"]
    if isinstance(node, auth.SubaccountFilter):
        numbers = ", ".join(map(str, node.numbers))
        return [f"{pad}orders only on subaccount(s) {numbers} (other messages pass this filter)"]
    if isinstance(node, auth.ClobPairIdFilter):
        ids = ", ".join(map(str, node.ids))
        return [f"{pad}orders only on market(s) (clob pair id) {ids} (other messages pass this filter)"]
    head = "ALL of:" if isinstance(node, auth.AllOf) else "ANY ONE of:"
    lines = [pad + head]
    for sub in node.subs:
        lines += describe_tree(sub, depth + 1)
    return lines


def review_v4_request(
    payload: Payload, network: V4Network, origin_address: str, public_key: bytes, policy: V4Policy
) -> V4Review:
    """Check a v4-tx-request against this cold account and the operator's policy; rows for the screen."""
    if payload.kind != "v4-tx-request":
        raise FormatError(f"expected a v4-tx-request payload, got {payload.kind}")
    screen(dict(payload.body), where="the v4 transaction request", include_keys=False)
    own = dydx_address(public_key)
    fields = payload.body["tx"]
    if payload.network_id != network.eip712_chain_id:
        raise _refuse("network", f"is Ethereum chain {payload.network_id}, not {network.name}'s")
    if fields["chain_id"] != network.chain_id:
        raise _refuse("chain id", f"{fields['chain_id']} is not {network.name}'s {network.chain_id}")
    if payload.address is None or not same_address(payload.address, origin_address):
        raise _refuse("address", f"{payload.address} is not this cold key's {origin_address}")
    if fields["signer_address"] != own or fields["signer_pubkey"] != public_key.hex():
        raise _refuse("signer", f"{fields['signer_address']} is not this account {own}")
    if payload.is_expired():
        raise _refuse("request", f"expired at {payload.expires}; ask the relay for a fresh one")
    try:
        unsigned = unsigned_from_fields(fields)
    except AirgapError as exc:
        raise FormatError(exc.message) from None
    r = _Reviewer(unsigned, network, own, policy)

    latest: int = payload.body["latest_height"]
    timeout = unsigned.body.timeout_height
    if timeout == 0:
        raise _refuse("timeout height", "is not set: a cold transaction must expire")
    if timeout <= latest:
        raise _refuse("timeout height", f"{timeout} is not above the relay's latest height {latest}")
    if timeout - latest > policy.max_timeout_blocks:
        raise _refuse(
            "timeout height",
            f"{timeout} is {timeout - latest} blocks past the latest height {latest}, over your cap of "
            f"{policy.max_timeout_blocks} (--max-timeout-blocks)",
        )
    fee = unsigned.auth_info.fee
    if len(fee.amount) > 1:
        raise _refuse("fee", "is paid in more than one denomination")
    for coin in fee.amount:
        if coin.denom not in network.fee_denoms:
            raise _refuse("fee", f"denomination {coin.denom} is not one {network.name} takes fees in")
        cap = policy.max_fee_usdc if coin.denom == network.usdc_denom else policy.max_fee_native
        if coin.amount > cap:
            cap_text = coin_text(Coin(coin.denom, cap), network)
            raise _refuse("fee", f"{coin_text(coin, network)} is over your cap of {cap_text} (--max-fee)")

    r.review.rows += [
        ("environment", f"dYdX v4 {network.name}: chain id {network.chain_id}"),
        ("account", f"{own}  (this cold account)"),
        ("account number", f"{unsigned.account_number}  (as the relay read it from the chain)"),
        ("sequence", str(unsigned.auth_info.signer.sequence)),
    ]
    for i, msg in enumerate(unsigned.body.messages):
        r.message(i, msg)
    fee_text = ", ".join(coin_text(c, network) for c in fee.amount) or "none"
    r.review.rows += [
        ("fee", fee_text),
        ("gas limit", str(fee.gas_limit)),
        (
            "expires",
            f"after block {timeout}  ({timeout - latest} blocks past the relay's latest height {latest})",
        ),
        # Quoted as it is: the screen escapes control and bidi characters visibly (shared/display.py).
        ("memo", f'"{unsigned.body.memo}"' if unsigned.body.memo else "(empty)"),
        ("sign doc SHA-256", unsigned.sign_doc().digest().hex()),
    ]
    if fee.amount and fee.amount[0].denom == network.usdc_denom:
        floor = network.min_gas_price_usdc * fee.gas_limit
        if Decimal(fee.amount[0].amount) < floor:
            r.review.notes.append(f"The fee is below the validators' default minimum ({floor} base units).")
    r.review.notes.append(
        "The fee and the sequence are spent even if a message fails; later cold transactions must use the "
        "next sequence numbers, in order."
    )
    return r.review
