"""Run dYdX v4 reference vectors (``dydx-v4-vectors/1``) through the code `derive-v4` and `sign v4` use.

Every field a vector carries is checked, an unknown field fails its vector, and a vector passes only if
every field does. Derivations go through ``derive_v4_account`` (the cold key signs the onboarding typed
data), transactions through the request parser, our encoder and ``sign_direct``, authenticator trees
through the parser and the review's own safety verdict. Fields that only describe (a source, a note) are
accepted when they are text. Secrets in the file (signatures, mnemonics, keys) are compared in constant
time and never printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from functools import partial
from typing import Any

from dydx_airgap.offline.diagnostics.results import VectorResult
from dydx_airgap.offline.keys.cold_key import ColdKey, V4Derivation, derive_v4_account
from dydx_airgap.offline.keys.v4_account import (
    V4Account,
    account_from_onboarding_signature,
    mnemonic_from_entropy,
    seed_from_mnemonic,
    sign_direct,
)
from dydx_airgap.offline.review.v4_review import judge_authenticator
from dydx_airgap.shared.canonical_json import loads_strict
from dydx_airgap.shared.dydx_v4 import authenticators as auth
from dydx_airgap.shared.dydx_v4 import onboarding
from dydx_airgap.shared.dydx_v4.address import dydx_address, pubkey_hash160
from dydx_airgap.shared.dydx_v4.networks import network_by_chain_id, network_by_name
from dydx_airgap.shared.dydx_v4.request import unsigned_from_fields
from dydx_airgap.shared.dydx_v4.tx import UnsignedTx, broadcast_body, tx_hash
from dydx_airgap.shared.errors import AirgapError, FormatError
from dydx_airgap.shared.ethereum.address import to_checksum_address
from dydx_airgap.shared.secret import Secret

FORMAT = "dydx-v4-vectors/1"
MAX_BYTES = 8 * 1024 * 1024
TOP_LEVEL = frozenset(
    {
        "format",
        "generated_by",
        "package_versions",
        "conventions",
        "notes",
        "upstream_js_vector",
        "derivations",
        "hot_keys",
        "txs",
        "unsafe_authenticators",
        "safe_authenticators",
        "cross_checks",
    }
)
_TEXT_FIELDS = frozenset(
    {"source", "source_vector", "built_with", "chain_rule", "why_unsafe", "why_safe", "label", "name"}
)


def is_v4_vectors(data: bytes) -> bool:
    return b'"dydx-v4-vectors/1"' in data[:4096]


def _same_secret(actual: bytes | str, expected_hex_or_text: str, *, text: bool = False) -> bool:
    a = actual.encode() if isinstance(actual, str) else actual
    if text:
        return hmac.compare_digest(a, expected_hex_or_text.encode())
    try:
        return hmac.compare_digest(a, bytes.fromhex(expected_hex_or_text))
    except ValueError:
        return False


def _pub_pem(account: V4Account) -> str:
    import coincurve

    return bytes(coincurve.PublicKey(account.public_key).format(compressed=False)).hex()


class _Vector:
    """Checks the fields of one vector object; each check is a predicate over the field's value."""

    def __init__(self, name: str, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.result = VectorResult(name)
        self.seen: set[str] = set()

    def check(self, name: str, test: Callable[[Any], bool]) -> None:
        if name not in self.fields:
            return
        self.seen.add(name)
        try:
            ok = bool(test(self.fields[name]))
        except (AirgapError, KeyError, TypeError, ValueError, IndexError):
            ok = False
        (self.result.passed_fields if ok else self.result.failed_fields).append(name)

    def finish(self) -> VectorResult:
        for name in sorted(set(self.fields) - self.seen):
            if name in _TEXT_FIELDS or name == "annotations":
                ok = isinstance(self.fields[name], str | dict)
                (self.result.passed_fields if ok else self.result.failed_fields).append(name)
            else:
                self.result.failed_fields.append(f"{name} (unknown field)")
        return self.result


def _account_fields(v: _Vector, account: V4Account) -> None:
    v.check("mnemonic", lambda x: _same_secret(account.mnemonic.reveal(), x, text=True))
    v.check("bip39_seed", lambda x: _same_secret(account.seed.reveal(), x))
    v.check("hd_path", lambda x: x == account.hd_path == onboarding.HD_PATH)
    v.check("private_key", lambda x: _same_secret(account.private_key.reveal(), x))
    v.check("public_key_compressed", lambda x: x == account.public_key.hex())
    v.check("public_key_uncompressed", lambda x: x == _pub_pem(account))
    v.check("pubkey_hash160", lambda x: x == pubkey_hash160(account.public_key).hex())
    v.check("dydx_address", lambda x: x == account.address)
    v.check("noble_address", lambda x: x == account.noble_address)


def _entropy_matches(signature: bytes, expected: str) -> bool:
    return _same_secret(onboarding.entropy_from_signature(signature), expected)


def check_upstream(vector: dict[str, Any]) -> VectorResult:
    v = _Vector("upstream_js_vector", vector)
    sig = bytes.fromhex(vector["onboarding_signature"])
    account = account_from_onboarding_signature(Secret(sig))

    def every_v_byte(_: object) -> bool:
        # Upstream's own test: the last byte as 00, 1b, 01 or 1c derives the same account.
        return all(
            account_from_onboarding_signature(Secret(sig[:64] + bytes([b]))).address == account.address
            for b in (0x00, 0x1B, 0x01, 0x1C)
        )

    v.check("onboarding_signature", every_v_byte)
    v.check("entropy", lambda x: _entropy_matches(sig, x))
    _account_fields(v, account)
    return v.finish()


def check_derivation(vector: dict[str, Any]) -> VectorResult:
    v = _Vector(vector.get("name", "derivation"), vector)
    raw = bytes.fromhex(vector["eth_private_key"].removeprefix("0x"))
    key = ColdKey(Secret(raw), source="vector")
    chain = vector["eip712_chain_id"]
    derived: V4Derivation = derive_v4_account(key, chain)
    sig = derived.onboarding_signature.reveal()
    network = network_by_name(vector["network"])
    v.check("eth_private_key", lambda _: True)
    v.check("ethereum_address", lambda x: x == key.address == to_checksum_address(x))
    v.check("network", lambda x: network.eip712_chain_id == chain)
    v.check("eip712_chain_id", lambda x: x == network.eip712_chain_id)
    v.check("dydx_chain_id", lambda x: network_by_chain_id(x) == network)
    v.check("typed_data", lambda x: x == onboarding.typed_data(chain))
    v.check("eip712_domain_separator", lambda x: x == onboarding.domain_separator(chain).hex())
    v.check("eip712_struct_hash", lambda x: x == onboarding.struct_hash().hex())
    v.check("eip712_digest", lambda x: x == onboarding.digest(chain).hex())
    v.check("onboarding_signature", lambda x: _same_secret(sig, x))
    v.check("onboarding_signature_r", lambda x: _same_secret(sig[:32], x))
    v.check("onboarding_signature_s", lambda x: _same_secret(sig[32:64], x))
    v.check("onboarding_signature_v", lambda x: x == sig[64])
    v.check("entropy", lambda x: _entropy_matches(sig, x))
    _account_fields(v, derived.account)
    # The mnemonic is also what the entropy encodes, independently of the signature path.
    v.check(
        "mnemonic",
        lambda x: (
            _same_secret(
                mnemonic_from_entropy(Secret(onboarding.entropy_from_signature(sig))).reveal(), x, text=True
            )
            and seed_from_mnemonic(Secret(x)).reveal() == derived.account.seed.reveal()
        ),
    )
    return v.finish()


def check_hot_key(index: int, vector: dict[str, Any]) -> VectorResult:
    import coincurve

    v = _Vector(f"hot_keys[{index}]", vector)
    private = hashlib.sha256(vector["seed_utf8"].encode()).digest()
    public = bytes(coincurve.PrivateKey(private).public_key.format(compressed=True))
    v.check("seed_utf8", lambda x: isinstance(x, str))
    v.check("private_key", lambda x: _same_secret(private, x))
    v.check("public_key_compressed", lambda x: x == public.hex())
    v.check("dydx_address", lambda x: x == dydx_address(public))
    return v.finish()


def _proto3_json(unsigned: UnsignedTx) -> list[dict[str, object]]:
    return [msg.to_proto3_json() for msg in unsigned.body.messages]


def check_tx(vector: dict[str, Any], keys: dict[str, Secret[bytes]], name: str | None = None) -> VectorResult:
    v = _Vector(name or vector.get("name", "tx"), vector)
    unsigned = unsigned_from_fields(vector["request"], with_views=True)
    doc = unsigned.sign_doc().encode()
    key = keys.get(vector["request"]["signer_pubkey"])
    signature = sign_direct(key, doc) if key is not None else None
    raw = unsigned.tx_raw(signature) if signature is not None else None
    v.check("request", lambda _: True)
    v.check("request_messages_proto3_json", lambda x: x == _proto3_json(unsigned))
    v.check("body_bytes", lambda x: x == unsigned.body_bytes.hex())
    v.check("auth_info_bytes", lambda x: x == unsigned.auth_info_bytes.hex())
    v.check("sign_doc", lambda x: x == doc.hex())
    v.check("sign_doc_sha256", lambda x: x == hashlib.sha256(doc).hexdigest())
    v.check("signature", lambda x: signature is not None and x == signature.hex())
    v.check("signature_r", lambda x: signature is not None and x == signature[:32].hex())
    v.check("signature_s", lambda x: signature is not None and x == signature[32:].hex())
    v.check("tx_raw", lambda x: raw is not None and x == raw.hex())
    v.check("tx_raw_base64", lambda x: raw is not None and x == base64.b64encode(raw).decode())
    v.check("txhash", lambda x: raw is not None and x == tx_hash(raw))
    v.check("broadcast_body", lambda x: raw is not None and x == broadcast_body(raw, x["mode"]))
    return v.finish()


def check_authenticator(
    vector: dict[str, Any], expect_safe: bool, keys: dict[str, Secret[bytes]]
) -> VectorResult:
    v = _Vector(f"authenticator {vector.get('label', '?')}", vector)
    data = base64.b64decode(vector["data_base64"], validate=True)
    tree = auth.parse_authenticator(vector["authenticator_type"], data)
    verdict = judge_authenticator(tree)
    v.check("authenticator_type", lambda x: auth.type_name(tree) == x)
    v.check("data_base64", lambda x: base64.b64encode(data).decode() == x)
    v.check("data_hex", lambda x: x == data.hex())
    v.check("data_utf8", lambda x: x == _utf8_or_none(data))
    v.check("data_len", lambda x: x == len(data))
    v.check("decoded_tree", lambda x: x == auth.as_tree(tree))
    v.check("chain_accepts", lambda x: x == verdict.chain_accepts == auth.requires_signature(tree))
    # The list a tree is in is itself a claim: "unsafe" trees must be refused, "safe" ones accepted.
    v.check("safe_for_cold_signer", lambda x: x == verdict.safe == expect_safe)
    v.check("hot_pubkey", lambda x: bytes.fromhex(x) in _keys_of(tree))
    v.check("tx_if_signed", lambda x: check_tx(x, keys).passed)
    return v.finish()


def _utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _keys_of(node: auth.Authenticator) -> set[bytes]:
    if isinstance(node, auth.SignatureVerification):
        return {node.public_key}
    if isinstance(node, auth.AllOf | auth.AnyOf):
        return set().union(*(_keys_of(s) for s in node.subs))
    return set()


def _guarded(name: str, run: Callable[[], VectorResult]) -> VectorResult:
    """A vector whose inputs cannot even be read fails as a whole, by name, without stopping the rest."""
    try:
        return run()
    except (AirgapError, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return VectorResult(name, failed_fields=["(unreadable vector)"])


def run_v4_vectors(data: bytes) -> list[VectorResult]:
    doc = loads_strict(data, max_bytes=MAX_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"not a {FORMAT} file")
    unknown = set(doc) - TOP_LEVEL
    if unknown:
        raise FormatError(f"v4 vectors file has unknown field(s): {', '.join(sorted(unknown))[:80]}")
    results: list[VectorResult] = []
    keys: dict[str, Secret[bytes]] = {}
    if "upstream_js_vector" in doc:
        up = doc["upstream_js_vector"]
        results.append(_guarded("upstream_js_vector", lambda: check_upstream(up)))
        _remember(
            keys, lambda: account_from_onboarding_signature(Secret(bytes.fromhex(up["onboarding_signature"])))
        )
    for d in doc.get("derivations", []):
        results.append(_guarded(str(d.get("name")), partial(check_derivation, d)))
        _remember(keys, partial(_derivation_account, d))
    for i, h in enumerate(doc.get("hot_keys", [])):
        results.append(_guarded(f"hot_keys[{i}]", partial(check_hot_key, i, h)))
    for t in doc.get("txs", []):
        results.append(_guarded(str(t.get("name")), partial(check_tx, t, keys)))
    for listing, safe in (("unsafe_authenticators", False), ("safe_authenticators", True)):
        for a in doc.get(listing, []):
            label = f"authenticator {a.get('label')}"
            results.append(_guarded(label, partial(check_authenticator, a, safe, keys)))
    if not results:
        raise FormatError("the v4 vectors file holds no vectors")
    return results


def _derivation_account(d: dict[str, Any]) -> V4Account:
    key = ColdKey(Secret(bytes.fromhex(d["eth_private_key"].removeprefix("0x"))))
    return derive_v4_account(key, d["eip712_chain_id"]).account


def _remember(keys: dict[str, Secret[bytes]], make: Callable[[], V4Account]) -> None:
    try:
        account = make()
    except (AirgapError, KeyError, TypeError, ValueError, AttributeError):
        return
    keys[account.public_key.hex()] = account.private_key
