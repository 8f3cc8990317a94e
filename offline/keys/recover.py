"""`recover`: find which account, network and derivation variant produced a registered STARK key.

Wallets and clients differed (spec dydx-v3.md §4.3-§4.5, shared/dydx_v3/variants.py): the web app's four
candidates, the legacy personal-sign flow and dydx-v3-python's leading-zero quirk. A former v3 user often
knows only the STARK key dYdX (or an explorer) shows, not which of a mnemonic's accounts, which network or
which wallet made it. :func:`search` tries them all: every variant of every account on every network.

Large searches run on every core through offline/keys/batch.py. What crosses the workers' pipes is only the
*public* x of each candidate (32 bytes per variant): the derivation signatures and STARK private keys stay
in the worker that computed them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dydx_airgap.offline.keys.batch import SLICE_ITEMS, run_in_workers, worker_count
from dydx_airgap.offline.keys.cold_key import ColdKey, all_variant_stark_private_keys
from dydx_airgap.offline.keys.sources import AccountKey
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import ALL_VARIANTS, StarkKeyVariant
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.progress import Advance
from dydx_airgap.shared.stark import private_to_stark_key
from dydx_airgap.shared.stark.fixed_base import GeneratorTable, generator_table

#: Fewer digits than this would match by chance in a search of thousands of keys (16^-8 per candidate).
MIN_PREFIX_DIGITS = 8
_HEX = re.compile(r"[0-9a-f]{1,64}")
_X_BYTES = 32


@dataclass(frozen=True)
class Target:
    """A STARK key to look for, whole or as a prefix of its hex digits."""

    text: str  # as the user gave it, lower-cased, without 0x

    @property
    def value(self) -> int:
        return int(self.text, 16)

    def matches(self, stark_key: int) -> str | None:
        """ "exact", "prefix" or None. A prefix is compared with both spellings dYdX's clients used: 64
        zero-padded digits (the web app) and minimal hex (dydx-v3-python)."""
        if stark_key == self.value:
            return "exact"
        if f"{stark_key:064x}".startswith(self.text) or f"{stark_key:x}".startswith(self.text):
            return "prefix"
        return None


def parse_target(text: str) -> Target:
    cleaned = text.strip().lower()
    cleaned = cleaned[2:] if cleaned.startswith("0x") else cleaned
    if not _HEX.fullmatch(cleaned):
        raise InputError("a STARK key to match is hex: up to 64 digits, 0x optional")
    if len(cleaned) < MIN_PREFIX_DIGITS:
        raise InputError(
            f"{cleaned!r} is too short to match: give the whole STARK key or at least "
            f"{MIN_PREFIX_DIGITS} leading hex digits"
        )
    return Target(cleaned)


@dataclass(frozen=True)
class Candidate:
    account: int
    derivation_path: str | None
    address: str
    network: Network
    variant: StarkKeyVariant
    stark_key: int


@dataclass(frozen=True)
class Match:
    target: Target
    how: str  # "exact" or "prefix"
    candidate: Candidate
    #: Other variants of the same account and network that give the very same key (dydx3-python agrees
    #: with web-app unless the signature starts with byte 00): either flag signs for it.
    same_key_variants: tuple[StarkKeyVariant, ...] = ()


def _merge_same_key(found: list[Match]) -> list[Match]:
    """One match per (account, network, key): the first variant in ALL_VARIANTS order, the rest noted."""
    merged: dict[tuple[int, str | None, int, int], Match] = {}
    for match in found:
        c = match.candidate
        slot = (c.account, c.derivation_path, c.network.chain_id, c.stark_key)
        first = merged.get(slot)
        if first is None:
            merged[slot] = match
        else:
            merged[slot] = Match(
                first.target, first.how, first.candidate, (*first.same_key_variants, c.variant)
            )
    return list(merged.values())


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    not_found: list[Target]
    candidates_tried: int


#: From this many candidates on, building the generator table (about 0.1 s) pays for itself.
TABLE_MIN_CANDIDATES = 200


def variant_public_keys(
    key: ColdKey, chain_id: int, table: GeneratorTable | None = None
) -> list[tuple[StarkKeyVariant, int]]:
    """(variant, STARK key x) for all six variants; ``table`` speeds up k·G in large searches."""
    publics: dict[int, int] = {}  # variants that give the same private key (dydx3-python and web-app,
    # unless the signature starts with byte 00) share one multiplication
    out = []
    for variant, private in all_variant_stark_private_keys(key, chain_id):
        public = publics.get(private)
        if public is None:
            public = publics[private] = (
                table.multiply(private)[0] if table is not None else private_to_stark_key(private)
            )
        out.append((variant, public))
    return out


def variant_of(key: ColdKey, chain_id: int, stark_key: int) -> StarkKeyVariant | None:
    """Which variant of this key on this network is ``stark_key``, if any."""
    for variant, public in variant_public_keys(key, chain_id):
        if public == stark_key:
            return variant
    return None


def _public_records(
    keys: Sequence[AccountKey],
    networks: Sequence[Network],
    start: int,
    stop: int,
    table: GeneratorTable | None,
) -> bytes:
    return b"".join(
        public.to_bytes(_X_BYTES, "big")
        for key in keys[start:stop]
        for network in networks
        for _variant, public in variant_public_keys(key.key, network.chain_id, table)
    )


def candidate_keys(
    keys: Sequence[AccountKey],
    networks: Sequence[Network],
    workers: int | None = None,
    progress: Advance | None = None,
) -> list[Candidate]:
    """Every (account, network, variant) candidate's public STARK key, on every core for large searches;
    ``progress(n)`` is called as accounts are done."""
    per_key = len(networks) * len(ALL_VARIANTS)
    # Built before forking, so every worker inherits it instead of building its own.
    table = generator_table() if len(keys) * per_key >= TABLE_MIN_CANDIDATES else None
    data: bytes | None = None
    count = worker_count(workers, len(keys))
    if count > 1:
        chunks = run_in_workers(
            len(keys), lambda a, b: _public_records(keys, networks, a, b, table), count, progress
        )
        if chunks is not None and sum(map(len, chunks)) == len(keys) * per_key * _X_BYTES:
            data = b"".join(chunks)
    if data is None:
        parts = []
        for start in range(0, len(keys), SLICE_ITEMS):
            stop = min(start + SLICE_ITEMS, len(keys))
            parts.append(_public_records(keys, networks, start, stop, table))
            if progress is not None:
                progress(stop - start)
        data = b"".join(parts)
    out: list[Candidate] = []
    offset = 0
    for key in keys:
        for network in networks:
            for variant in ALL_VARIANTS:
                x = int.from_bytes(data[offset : offset + _X_BYTES], "big")
                offset += _X_BYTES
                out.append(Candidate(key.index, key.derivation_path, key.key.address, network, variant, x))
    return out


def search(
    keys: Sequence[AccountKey],
    networks: Sequence[Network],
    targets: Sequence[Target],
    workers: int | None = None,
    progress: Advance | None = None,
) -> SearchResult:
    if not targets:
        raise InputError("nothing to look for: give --match KEY or --match-file FILE")
    candidates = candidate_keys(keys, networks, workers, progress)
    by_value: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        by_value.setdefault(candidate.stark_key, []).append(candidate)
    matches: list[Match] = []
    not_found: list[Target] = []
    for target in targets:
        found = [Match(target, "exact", c) for c in by_value.get(target.value, [])]
        if not found and len(target.text) < 64:
            found = [Match(target, how, c) for c in candidates if (how := target.matches(c.stark_key))]
        matches.extend(_merge_same_key(found))
        if not found:
            not_found.append(target)
    confirm_matches(keys, matches)
    return SearchResult(matches, not_found, len(candidates))


def confirm_matches(keys: Sequence[AccountKey], matches: Sequence[Match]) -> None:
    """Each match is derived again here, on its own, the plain way (in this process, without the generator
    table or the workers that produced the candidates): what the user is told to sign with must give the
    reported key. One k·G per match, so it costs nothing next to the search."""
    by_index = {key.index: key for key in keys}
    for match in matches:
        c = match.candidate
        privates = dict(all_variant_stark_private_keys(by_index[c.account].key, c.network.chain_id))
        if private_to_stark_key(privates[c.variant]) != c.stark_key:
            raise VerificationError(
                f"account {c.account}, variant {c.variant.value}: the key the search found does not derive "
                "again (a fault on this machine); nothing is reported: run recover again"
            )
