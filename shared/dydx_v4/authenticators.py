"""x/accountplus authenticator trees: parse their config bytes, re-encode them, and judge them.

An authenticator lets a second key (a "hot" trading key) act for the account under rules. Two questions
are asked of a tree, and they are different:

* **Would the chain accept it?** MsgAddAuthenticator is refused unless every path through the tree
  requires a signature: AllOf needs one sub that does, AnyOf needs all subs to (``requires_signature``).
* **Is it safe to hand to a hot key?** (``classify``, spec headline 1.) Every way the tree can pass must
  require the hot key's signature *and* restrict the message to order placement or cancellation. Only
  MessageFilter restricts message types. SubaccountFilter and ClobPairIdFilter constrain CLOB order
  messages and pass every other message, so ``AllOf[SignatureVerification, SubaccountFilter]`` — a tree the
  chain accepts — lets the hot key withdraw the account's funds.

Config encodings (spec §B3): SignatureVerification = the 33-byte compressed key; MessageFilter = type URLs
joined by ","; SubaccountFilter / ClobPairIdFilter = decimal numbers joined by ","; AllOf / AnyOf = a JSON
array of at least two ``{"type", "config"}`` objects whose config is the standard padded base64 of the
sub-config. Parsing is stricter than Go's JSON decoder (which matches keys case-insensitively, ignores
unknown keys and tolerates duplicates): anything but the one plain reading is refused.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from dataclasses import dataclass

from dydx_airgap.shared.errors import FormatError, InputError

from .address import check_compressed_pubkey

SIGNATURE_VERIFICATION = "SignatureVerification"
MESSAGE_FILTER = "MessageFilter"
SUBACCOUNT_FILTER = "SubaccountFilter"
CLOB_PAIR_ID_FILTER = "ClobPairIdFilter"
ALL_OF = "AllOf"
ANY_OF = "AnyOf"
#: What the app registers (protocol/app/app.go); PartitionedAllOf exists in code but is not registered.
REGISTERED_TYPES = frozenset(
    {SIGNATURE_VERIFICATION, MESSAGE_FILTER, SUBACCOUNT_FILTER, CLOB_PAIR_ID_FILTER, ALL_OF, ANY_OF}
)

PLACE_ORDER = "/dydxprotocol.clob.MsgPlaceOrder"
CANCEL_ORDER = "/dydxprotocol.clob.MsgCancelOrder"
BATCH_CANCEL = "/dydxprotocol.clob.MsgBatchCancel"
#: All a hot trading key may ever be allowed to sign: none of these moves funds out of the account.
TRADING_MESSAGE_TYPES = frozenset({PLACE_ORDER, CANCEL_ORDER, BATCH_CANCEL})

#: The 1024-byte data limit bounds nesting already (base64 grows each level by 4/3); this bounds recursion
#: on input that did not pass through a MsgAddAuthenticator.
MAX_DEPTH = 8
#: Bound on the number of distinct ways a tree can pass (AllOf of AnyOfs multiplies them).
MAX_PATHS = 4096

_TYPE_URL = re.compile(r"/[A-Za-z0-9_.]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,9}")


@dataclass(frozen=True)
class SignatureVerification:
    public_key: bytes

    def __post_init__(self) -> None:
        check_compressed_pubkey(self.public_key)


@dataclass(frozen=True)
class MessageFilter:
    type_urls: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.type_urls or any(not _TYPE_URL.fullmatch(u) for u in self.type_urls):
            raise InputError("a MessageFilter lists one or more type URLs like /pkg.Msg, without spaces")


@dataclass(frozen=True)
class SubaccountFilter:
    numbers: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_ids(self.numbers, SUBACCOUNT_FILTER)


@dataclass(frozen=True)
class ClobPairIdFilter:
    ids: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_ids(self.ids, CLOB_PAIR_ID_FILTER)


@dataclass(frozen=True)
class AllOf:
    subs: tuple[Authenticator, ...]

    def __post_init__(self) -> None:
        _check_subs(self.subs, ALL_OF)


@dataclass(frozen=True)
class AnyOf:
    subs: tuple[Authenticator, ...]

    def __post_init__(self) -> None:
        _check_subs(self.subs, ANY_OF)


Authenticator = SignatureVerification | MessageFilter | SubaccountFilter | ClobPairIdFilter | AllOf | AnyOf


def _check_ids(ids: tuple[int, ...], what: str) -> None:
    if not ids or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < 2**32 for i in ids):
        raise InputError(f"a {what} lists one or more uint32 numbers")


def _check_subs(subs: tuple[Authenticator, ...], what: str) -> None:
    # The chain's composites refuse fewer than two subs at registration (OnAuthenticatorAdded).
    if not isinstance(subs, tuple) or len(subs) < 2:
        raise InputError(f"{what} needs at least two sub-authenticators")


# --- parsing ------------------------------------------------------------------------------------------------


def _text(config: bytes, what: str) -> str:
    try:
        return config.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{what} config is not UTF-8") from None


def _decimal_list(config: bytes, what: str) -> tuple[int, ...]:
    parts = _text(config, what).split(",")
    if any(not _DECIMAL.fullmatch(p) for p in parts):
        raise FormatError(
            f"{what} config must be decimal numbers joined by ',' (no spaces, no leading zeros)"
        )
    values = tuple(int(p) for p in parts)
    if any(v >= 2**32 for v in values):
        raise FormatError(f"{what} config: a number does not fit in 32 bits")
    return values


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise FormatError("authenticator JSON repeats a key")
    return dict(pairs)


def _refuse_constant(name: str) -> object:
    raise FormatError(f"authenticator JSON contains {name}")


def _strict_base64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise FormatError("a sub-authenticator config is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise FormatError("a sub-authenticator config is not canonical padded base64")
    return raw


def _composite_subs(config: bytes, what: str, depth: int) -> tuple[Authenticator, ...]:
    try:
        items = json.loads(
            _text(config, what), object_pairs_hook=_no_duplicate_keys, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError:
        raise FormatError(f"{what} config is not JSON") from None
    if not isinstance(items, list) or len(items) < 2:
        raise FormatError(f"{what} config must be a JSON array of at least two authenticators")
    subs: list[Authenticator] = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"type", "config"}:
            raise FormatError(f'{what}: every entry is exactly {{"type": …, "config": …}}')
        sub_type, sub_config = item["type"], item["config"]
        if not isinstance(sub_type, str) or not isinstance(sub_config, str):
            raise FormatError(f"{what}: type and config are strings")
        subs.append(_parse(sub_type, _strict_base64(sub_config), depth + 1))
    return tuple(subs)


def _parse(type_name: str, config: bytes, depth: int) -> Authenticator:
    if depth > MAX_DEPTH:
        raise FormatError(f"authenticator tree nested deeper than {MAX_DEPTH}")
    if type_name not in REGISTERED_TYPES:
        raise FormatError(f"authenticator type {type_name!r} is not registered on the dYdX Chain")
    if not config:
        raise FormatError(f"{type_name} has an empty config")
    try:
        if type_name == SIGNATURE_VERIFICATION:
            return SignatureVerification(config)
        if type_name == MESSAGE_FILTER:
            return MessageFilter(tuple(_text(config, type_name).split(",")))
        if type_name == SUBACCOUNT_FILTER:
            return SubaccountFilter(_decimal_list(config, type_name))
        if type_name == CLOB_PAIR_ID_FILTER:
            return ClobPairIdFilter(_decimal_list(config, type_name))
        subs = _composite_subs(config, type_name, depth)
        return AllOf(subs) if type_name == ALL_OF else AnyOf(subs)
    except InputError as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"{type_name}: {exc.message}") from None


def parse_authenticator(type_name: str, config: bytes) -> Authenticator:
    """The tree that MsgAddAuthenticator{authenticator_type, data} registers."""
    if not isinstance(config, bytes):
        raise FormatError("authenticator config must be bytes")
    return _parse(type_name, config, 0)


# --- encoding -----------------------------------------------------------------------------------------------


def type_name(node: Authenticator) -> str:
    if isinstance(node, SignatureVerification):
        return SIGNATURE_VERIFICATION
    if isinstance(node, MessageFilter):
        return MESSAGE_FILTER
    if isinstance(node, SubaccountFilter):
        return SUBACCOUNT_FILTER
    if isinstance(node, ClobPairIdFilter):
        return CLOB_PAIR_ID_FILTER
    return ALL_OF if isinstance(node, AllOf) else ANY_OF


def config_bytes(node: Authenticator) -> bytes:
    """The config in the web/JS client's form: compact JSON, keys ``type`` then ``config``."""
    if isinstance(node, SignatureVerification):
        return node.public_key
    if isinstance(node, MessageFilter):
        return ",".join(node.type_urls).encode()
    if isinstance(node, SubaccountFilter):
        return ",".join(map(str, node.numbers)).encode()
    if isinstance(node, ClobPairIdFilter):
        return ",".join(map(str, node.ids)).encode()
    entries = [
        {"type": type_name(sub), "config": base64.b64encode(config_bytes(sub)).decode("ascii")}
        for sub in node.subs
    ]
    return json.dumps(entries, separators=(",", ":")).encode()


def encode_authenticator(node: Authenticator) -> tuple[str, bytes]:
    """(authenticator_type, data) for MsgAddAuthenticator."""
    return type_name(node), config_bytes(node)


def trading_key_recipe(hot_public_key: bytes, subaccount: int = 0) -> AllOf:
    """The tree the web/JS client authorises a trading key with (spec §B3): the hot key's signature, AND
    one of place/cancel/batch-cancel, AND (for those) the given subaccount."""
    return AllOf(
        (
            SignatureVerification(hot_public_key),
            AnyOf(
                (
                    MessageFilter((PLACE_ORDER,)),
                    MessageFilter((CANCEL_ORDER,)),
                    MessageFilter((BATCH_CANCEL,)),
                )
            ),
            SubaccountFilter((subaccount,)),
        )
    )


def as_tree(node: Authenticator) -> dict[str, object]:
    """A display form: composites as ``{type, subs}``, leaves as ``{type, config_hex}``."""
    if isinstance(node, AllOf | AnyOf):
        return {"type": type_name(node), "subs": [as_tree(sub) for sub in node.subs]}
    return {"type": type_name(node), "config_hex": config_bytes(node).hex()}


# --- judging ------------------------------------------------------------------------------------------------


def requires_signature(node: Authenticator) -> bool:
    """The chain's registration rule: does every way through the tree verify a signature?"""
    if isinstance(node, SignatureVerification):
        return True
    if isinstance(node, AllOf):
        return any(requires_signature(sub) for sub in node.subs)
    if isinstance(node, AnyOf):
        return all(requires_signature(sub) for sub in node.subs)
    return False


@dataclass(frozen=True)
class _Path:
    """One way the tree can pass for a message: whose signatures it checks, which message types it allows
    (None: every type)."""

    signers: frozenset[bytes]
    allowed: frozenset[str] | None


def _paths(node: Authenticator) -> frozenset[_Path]:
    if isinstance(node, SignatureVerification):
        return frozenset({_Path(frozenset({node.public_key}), None)})
    if isinstance(node, MessageFilter):
        return frozenset({_Path(frozenset(), frozenset(node.type_urls))})
    if isinstance(node, SubaccountFilter | ClobPairIdFilter):
        # They judge only CLOB order messages and pass every other message: no restriction on the type.
        return frozenset({_Path(frozenset(), None)})
    if isinstance(node, AnyOf):
        union = frozenset().union(*(_paths(sub) for sub in node.subs))
        if len(union) > MAX_PATHS:
            raise FormatError("authenticator tree has too many alternative paths to judge")
        return union
    combined: set[_Path] = set()
    for choice in itertools.product(*(_paths(sub) for sub in node.subs)):
        signers = frozenset().union(*(p.signers for p in choice))
        allowed: frozenset[str] | None = None
        for p in choice:
            if p.allowed is not None:
                allowed = p.allowed if allowed is None else allowed & p.allowed
        combined.add(_Path(signers, allowed))
        if len(combined) > MAX_PATHS:
            raise FormatError("authenticator tree has too many alternative paths to judge")
    return frozenset(combined)


@dataclass(frozen=True)
class Verdict:
    safe: bool
    chain_accepts: bool
    reason: str


def classify(node: Authenticator, hot_public_key: bytes | None = None) -> Verdict:
    """Is ``node`` safe to grant a hot trading key? With ``hot_public_key``, every path must check *that*
    key's signature (not merely some key's)."""
    accepts = requires_signature(node)
    if not accepts:
        return Verdict(
            False, False, "a path through the tree requires no signature (the chain refuses such a tree)"
        )
    for path in sorted(_paths(node), key=_path_order):
        if not path.signers:  # pragma: no cover - requires_signature already implies a signer on every path
            return Verdict(False, accepts, "a path through the tree requires no signature")
        if hot_public_key is not None and hot_public_key not in path.signers:
            return Verdict(
                False, accepts, "a path is satisfied by the signature of a key other than the hot key"
            )
        if path.allowed is None:
            return Verdict(
                False,
                accepts,
                "a path lets the key sign any message type, withdrawals and transfers included: only "
                "MessageFilter restricts message types (SubaccountFilter and ClobPairIdFilter pass every "
                "message that is not an order)",
            )
        extra = path.allowed - TRADING_MESSAGE_TYPES
        if extra:
            return Verdict(
                False,
                accepts,
                f"a path allows {', '.join(sorted(extra))}: more than placing/cancelling orders",
            )
    return Verdict(
        True,
        accepts,
        "every path requires the hot key's signature and restricts messages to placing/cancelling orders",
    )


def _path_order(path: _Path) -> tuple[int, int, str]:
    # Deterministic order so the same tree always gives the same reason.
    allowed = "" if path.allowed is None else ",".join(sorted(path.allowed))
    return (len(path.signers), 0 if path.allowed is None else 1, allowed)
