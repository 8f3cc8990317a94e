"""The no-secret check: nothing in a bundle may let its reader derive or use a key.

Nothing secret is recomputed (the auditor has no key); instead every file is searched for the shapes a
leaked secret would take:

* **derivation signatures** — any 65/66-byte signature (hex, anywhere: fields, headers, answer bodies, log
  lines) is tried against the "dYdX STARK Key" and "dYdX Onboarding" digests of every known network, in
  all four ways a wallet may have hashed them (raw EIP-712, eth_sign decimal/hex, personal_sign text). If
  it recovers to an address the bundle names, it is that account's derivation signature: the STARK one
  *is* the STARK private key's seed and is refused anywhere; the onboarding one (the seed of the default
  API credentials) is allowed only as the ``signature`` of its own onboarding-request payload. Signatures
  already verified as something else (ladder rungs, the manifest signature) are skipped: a signature that
  recovers to an address over one hash cannot recover to the same address over another;
* **secret-named fields** — a value under a name like private / secret / mnemonic / passphrase / seed /
  password that looks like key material (16+ bytes as hex or base64, 12+ words, a huge integer) rather than
  ``<redacted>``, a UUID or a short word;
* **mnemonics** — a run of 12 or more BIP-39 words inside one text value, or as consecutive list items.

Findings say where and what, never the value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    onboarding_action_digest,
    onboarding_action_message,
    personal_sign_text,
)
from dydx_airgap.shared.dydx_v3.networks import NETWORKS
from dydx_airgap.shared.ethereum.address import address_from_public_key
from dydx_airgap.shared.ethereum.eip191 import personal_message_hash
from dydx_airgap.shared.ethereum.keccak import keccak256
from dydx_airgap.shared.evidence.bip39_english import WORD_SET

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MNEMONIC_RUN = 12
_SIG_HEX = re.compile(r"(?<![0-9a-fA-F])(?:0x)?([0-9a-fA-F]{130}(?:[0-9a-fA-F]{2})?)(?![0-9a-fA-F])")
_SECRET_NAME = re.compile(r"private|secret|mnemonic|passphrase|password|seed|xprv", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_MATERIAL = re.compile(r"(?:0x)?[0-9a-fA-F]{32,}")
_B64_MATERIAL = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_REDACTED = frozenset({"", "<redacted>", "redacted", "***", "<none>"})
_WORD_SPLIT = re.compile(r"[\s,;]+")


#: No mnemonic run (12 BIP-39 words, each of 3 letters or more, with a separator between) or signature
#: (130 hex digits) fits in fewer characters than this.
_SHORTEST_FINDING = MNEMONIC_RUN * 3 + MNEMONIC_RUN - 1
assert min(len(word) for word in WORD_SET) >= 3


@lru_cache(maxsize=4096)
def _secret_named(key: str) -> bool:
    """A secret-sounding field name (private, secret, mnemonic …); names repeat in every payload."""
    return bool(_SECRET_NAME.search(key))


def _opens_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


@dataclass(frozen=True)
class Finding:
    path: str  # the artefact (bundle-relative)
    where: str  # field path or line inside it
    what: str  # never the secret itself


@lru_cache(maxsize=1)
def _derivation_hashes() -> tuple[tuple[str, int, bytes], ...]:
    """(action, chain id, signed hash) for both derivation actions, every network, every wallet method."""
    out: list[tuple[str, int, bytes]] = []
    for chain_id in sorted(NETWORKS):
        for action in (STARK_KEY_ACTION, ONBOARDING_ACTION):
            digest = onboarding_action_digest(chain_id, action)
            text = personal_sign_text(chain_id, onboarding_action_message(chain_id, action))
            for signed in (
                digest,
                keccak256(b"\x19Ethereum Signed Message:\n32" + digest),
                keccak256(b"\x19Ethereum Signed Message:\n\x20" + digest),
                personal_message_hash(text.encode("utf-8")),
            ):
                out.append((action, chain_id, signed))
    return tuple(out)


def signature_core(hex_digits: str) -> bytes | None:
    """r ‖ s ‖ recovery id of 130/132 hex digits that could be a secp256k1 signature, else None."""
    raw = bytes.fromhex(hex_digits[:130])
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (0, 1, 27, 28) or not 0 < r < SECP256K1_N or not 0 < s < SECP256K1_N:
        return None
    return raw[:64] + bytes([v % 27])


def derivation_signer(core: bytes, addresses: frozenset[str]) -> tuple[str, int, str] | None:
    """(action, chain id, address) if ``core`` is a derivation signature of one of ``addresses``."""
    import coincurve

    for action, chain_id, signed in _derivation_hashes():
        try:
            public = coincurve.PublicKey.from_signature_and_message(core, signed, hasher=None)
        except Exception:  # noqa: BLE001, S112 - a signature that recovers to nothing is no secret
            continue
        address = address_from_public_key(public.format(compressed=False))
        if address in addresses:
            return action, chain_id, address
    return None


@dataclass
class SecretScanner:
    """Scans files; ``addresses`` are checksummed, ``accounted`` are signature cores already verified."""

    addresses: frozenset[str]
    accounted: frozenset[bytes] = frozenset()
    #: (artefact path, field path) where an onboarding signature legitimately sits.
    onboarding_allowed: frozenset[tuple[str, str]] = frozenset()
    _cache: dict[bytes, tuple[str, int, str] | None] = field(default_factory=dict)

    def scan_file(self, path: str, data: bytes) -> list[Finding]:
        text = data.decode("utf-8", errors="replace")
        findings: list[Finding] = []
        if path.endswith(".jsonl"):
            for number, line in enumerate(text.splitlines(), start=1):
                findings += self._scan_document(path, line, f"line {number}")
        else:
            findings += self._scan_document(path, text, "")
        return findings

    def _scan_document(self, path: str, text: str, where: str) -> list[Finding]:
        try:
            value = json.loads(text, parse_float=str, parse_constant=str)
        except (ValueError, RecursionError):
            return self._scan_text(path, text, where or "text", secret_name=False)
        findings: list[Finding] = []
        self._walk(findings, path, value, where, secret_name=False)
        return findings

    def _walk(self, out: list[Finding], path: str, value: Any, where: str, secret_name: bool) -> None:
        """Append the findings of ``value`` (and everything inside it) to ``out``.

        A short string under a name that is not secret-sounding is skipped without building its field path:
        it cannot hold a mnemonic (12 words of at least 3 letters: 47 characters), a signature (130 hex
        digits) or embedded JSON (it does not start with { or [). Most of a bundle's values are such strings.
        """
        if isinstance(value, dict):
            for key, item in value.items():
                named = secret_name or _secret_named(str(key))
                if (
                    not named
                    and type(item) is str
                    and len(item) < _SHORTEST_FINDING
                    and not _opens_json(item)
                ):
                    continue
                self._walk(out, path, item, f"{where}.{key}" if where else str(key), named)
        elif isinstance(value, list):
            words = [v for v in value if isinstance(v, str)]
            if len(words) >= MNEMONIC_RUN and _longest_word_run(words) >= MNEMONIC_RUN:
                out.append(Finding(path, where, f"a list of {MNEMONIC_RUN}+ BIP-39 words (a mnemonic)"))
            for i, item in enumerate(value):
                if (
                    not secret_name
                    and type(item) is str
                    and len(item) < _SHORTEST_FINDING
                    and not _opens_json(item)
                ):
                    continue
                self._walk(out, path, item, f"{where}[{i}]", secret_name)
        elif isinstance(value, str):
            inner = _embedded_json(value)
            if inner is None:
                out.extend(self._scan_text(path, value, where, secret_name))
            else:  # an answer or request body stored as text: search its structure instead
                self._walk(out, path, inner, f"{where}(json)", secret_name)
        elif isinstance(value, int) and not isinstance(value, bool) and secret_name and value >= 2**64:
            out.append(Finding(path, where, "a large integer under a secret-sounding name (a private key?)"))

    def _scan_text(self, path: str, text: str, where: str, secret_name: bool) -> list[Finding]:
        findings: list[Finding] = []
        if secret_name and _looks_like_material(text):
            findings.append(
                Finding(path, where, "key material under a secret-sounding name (not <redacted>)")
            )
        if len(text) < _SHORTEST_FINDING:
            return findings  # too short for a mnemonic run or a signature (see _walk)
        tokens = [t for t in _WORD_SPLIT.split(text.strip()) if t]
        if len(tokens) >= MNEMONIC_RUN and _longest_word_run(tokens) >= MNEMONIC_RUN:
            findings.append(Finding(path, where, f"a run of {MNEMONIC_RUN}+ BIP-39 words (a mnemonic)"))
        for match in _SIG_HEX.finditer(text) if len(text) >= 130 else ():
            finding = self._signature(path, where, match.group(1))
            if finding is not None:
                findings.append(finding)
        return findings

    def _signature(self, path: str, where: str, hex_digits: str) -> Finding | None:
        core = signature_core(hex_digits)
        if core is None or core in self.accounted:
            return None
        if core not in self._cache:
            self._cache[core] = derivation_signer(core, self.addresses)
        found = self._cache[core]
        if found is None:
            return None
        action, chain_id, address = found
        if action == STARK_KEY_ACTION:
            return Finding(
                path,
                where,
                f'a "dYdX STARK Key" derivation signature of {address} (chain id {chain_id}): '
                "it is the seed of the STARK private key",
            )
        if (path, where) in self.onboarding_allowed:
            return None
        return Finding(
            path,
            where,
            f'the "dYdX Onboarding" signature of {address} (chain id {chain_id}) outside its '
            "onboarding-request payload: it is the seed of the default API credentials",
        )


def _embedded_json(text: str) -> Any:
    """The JSON object or list a text value holds, else None."""
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        value = json.loads(text, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict | list) else None


def _longest_word_run(tokens: list[str]) -> int:
    best = run = 0
    for token in tokens:
        run = run + 1 if token.lower() in WORD_SET else 0
        best = max(best, run)
    return best


def _looks_like_material(text: str) -> bool:
    value = text.strip()
    if value.lower() in _REDACTED or _UUID.fullmatch(value.lower()):
        return False
    if _HEX_MATERIAL.fullmatch(value) or _B64_MATERIAL.fullmatch(value):
        return True
    return len(value.split()) >= MNEMONIC_RUN
