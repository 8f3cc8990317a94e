"""P1: per-account derivation — ours, dYdX's own client and the primitive floor, measured in one run.

Each account is timed on its own (time.perf_counter around its work) and medians are reported, so a pause
caused by another process on the machine moves one sample, not the result. The dydx3 side runs in its own
virtualenv as a subprocess that times itself and returns every account's outputs, which are compared with
ours account by account.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report import median, ms, ratio, s, table

from dydx_airgap.offline.keys.batch import available_cpus, derive_accounts_parallel
from dydx_airgap.offline.keys.cold_key import ColdKey, DerivedAccount, derive_account, stark_key_pair
from dydx_airgap.offline.keys.sources import DEFAULT_PATH_TEMPLATE
from dydx_airgap.shared.dydx_v3.eip712 import (
    ONBOARDING_ACTION,
    STARK_KEY_ACTION,
    onboarding_action_digest,
    onboarding_action_message,
    typed_data,
)
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.stark.constants import EC_GEN
from dydx_airgap.shared.stark.curve import to_fastecdsa

TEST_MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 1
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Samples:
    """Per-account seconds of each step, every pass pooled."""

    steps: dict[str, list[float]] = field(default_factory=dict)

    def add(self, step: str, seconds: float) -> None:
        self.steps.setdefault(step, []).append(seconds)

    def median(self, step: str) -> float:
        return median(self.steps[step])


@dataclass
class Ours:
    seed: bytes
    raw_keys: list[bytes]
    accounts: list[DerivedAccount]
    samples: Samples


def _seed() -> bytes:
    from dydx_airgap.offline.keys.hd import seed_from_mnemonic

    return seed_from_mnemonic(Secret(TEST_MNEMONIC), Secret("")).reveal()


def time_ours(count: int, passes: int) -> Ours:
    """Mnemonic seed → BIP-32 key → ColdKey → derive_account, the library path the CLI takes (BIP-32 by
    offline/keys/hd.py, one deriver for the batch as `load_keys` keeps it; k·G by fastecdsa, as a single
    account gets it: large batches use the generator table, P7 measures them whole)."""
    from dydx_airgap.offline.keys.hd import Bip32Deriver

    seed = _seed()
    samples = Samples()
    raw_keys: list[bytes] = []
    accounts: list[DerivedAccount] = []
    warm = Bip32Deriver(Secret(seed))
    for index in range(min(count, 20)):  # warm-up: imports, first-call caches
        derive_account(ColdKey(warm.private_key(f"m/44'/60'/0'/0/{index}")), CHAIN_ID)
    for _ in range(passes):
        raw_keys, accounts = [], []
        deriver = Bip32Deriver(Secret(seed))
        for index in range(count):
            path = DEFAULT_PATH_TEMPLATE.format(index=index)
            started = time.perf_counter()
            raw = deriver.private_key(path).reveal()
            keyed = time.perf_counter()
            account = derive_account(ColdKey(Secret(raw), source=f"mnemonic {path}"), CHAIN_ID)
            derived = time.perf_counter()
            samples.add("bip32", keyed - started)
            samples.add("derive", derived - keyed)
            samples.add("total", derived - started)
            raw_keys.append(raw)
            accounts.append(account)
    return Ours(seed, raw_keys, accounts, samples)


def time_floors(ours: Ours, passes: int) -> tuple[Samples, bool]:
    """The same outputs' irreducible work: two secp256k1 EIP-712 signatures and one STARK k·G.

    "eth-account" signs through eth-account's generic EIP-712 encoder (the brief's floor); "bare" signs
    precomputed digests with coincurve directly. Returns the samples and whether eth-account's signature
    equals ours (a check that the floor computes the same thing).
    """
    import coincurve
    from eth_account import Account

    stark_message = typed_data(CHAIN_ID, onboarding_action_message(CHAIN_ID, STARK_KEY_ACTION))
    onboarding_message = typed_data(CHAIN_ID, onboarding_action_message(CHAIN_ID, ONBOARDING_ACTION))
    stark_digest = onboarding_action_digest(CHAIN_ID, STARK_KEY_ACTION)
    onboarding_digest = onboarding_action_digest(CHAIN_ID, ONBOARDING_ACTION)
    generator = to_fastecdsa(EC_GEN)
    stark_keys = [account.stark.private_key.reveal() for account in ours.accounts]

    def stark_public(private_key: int) -> tuple[int, int]:
        point = private_key * generator
        return point.x, point.y

    def eth_account_floor(raw: bytes, private_key: int) -> None:
        Account.sign_typed_data(raw, full_message=stark_message)
        Account.sign_typed_data(raw, full_message=onboarding_message)
        stark_public(private_key)

    def bare_floor(raw: bytes, private_key: int) -> None:
        signer = coincurve.PrivateKey(raw)
        signer.sign_recoverable(stark_digest, hasher=None)
        signer.sign_recoverable(onboarding_digest, hasher=None)
        stark_public(private_key)

    def stark_only(raw: bytes, private_key: int) -> None:
        stark_public(private_key)

    floors: dict[str, Callable[[bytes, int], None]] = {
        "eth-account": eth_account_floor,
        "bare": bare_floor,
        "stark": stark_only,
    }
    samples = Samples()
    for name, work in floors.items():
        for raw, private_key in list(zip(ours.raw_keys, stark_keys, strict=True))[:20]:
            work(raw, private_key)  # warm-up
        for _ in range(passes):
            for raw, private_key in zip(ours.raw_keys, stark_keys, strict=True):
                started = time.perf_counter()
                work(raw, private_key)
                samples.add(name, time.perf_counter() - started)
    signed = Account.sign_typed_data(ours.raw_keys[0], full_message=onboarding_message).signature
    same = bytes(signed) == ours.accounts[0].onboarding_signature_for_request().to_bytes()[:65]
    return samples, same


def time_batches(ours: Ours, repeats: int) -> dict[int, float]:
    """Wall time of derive_accounts_parallel over every account, one worker and one per CPU."""
    keys = [ColdKey(Secret(raw)) for raw in ours.raw_keys]
    expected = [(a.stark.public_key, a.api.key) for a in ours.accounts]
    walls: dict[int, float] = {}
    for workers in sorted({1, available_cpus()}):
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            accounts = derive_accounts_parallel(keys, CHAIN_ID, workers=workers)
            runs.append(time.perf_counter() - started)
            if [(a.stark.public_key, a.api.key) for a in accounts] != expected:
                raise RuntimeError(f"derive_accounts_parallel with {workers} workers disagrees with serial")
        walls[workers] = median(runs)
    return walls


def time_cli_batch(count: int) -> float | str:
    """One `dydx-offline derive` of every account, end to end (keys, derivation, vault, files, read-back)."""
    with tempfile.TemporaryDirectory(prefix="dydx-bench-") as tmp:
        directory = Path(tmp)
        for name, text in (("mn", TEST_MNEMONIC), ("vp", "bench vault passphrase")):
            (directory / name).write_text(text + "\n")
            (directory / name).chmod(0o600)
        command = [
            str(REPO / ".venv" / "bin" / "dydx-offline"),
            "derive",
            "--mnemonic-file",
            "mn",
            "--network",
            str(CHAIN_ID),
            "--accounts",
            f"0-{count - 1}",
            "--out",
            "out",
            "--vault-password-file",
            "vp",
        ]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            return f"failed: {(result.stderr.strip().splitlines() or ['no output'])[-1]}"
        return wall


def run_dydx3(python: Path, count: int) -> dict[str, Any]:
    request = json.dumps({"mnemonic": TEST_MNEMONIC, "chain_id": CHAIN_ID, "indices": list(range(count))})
    result = subprocess.run(
        [str(python), str(REPO / "bench" / "dydx3_reference.py")],
        input=request,
        capture_output=True,
        text=True,
        timeout=60 + count * 1.0,
        cwd=REPO / "bench",
    )
    if result.returncode != 0:
        raise RuntimeError(f"dydx3 reference failed: {result.stderr.strip()[-500:]}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@dataclass
class Agreement:
    identical: list[int] = field(default_factory=list)
    by_design: list[list[str]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def _short(value: int) -> str:
    """The first 12 of 64 hex digits: enough to tell two public keys apart in a table."""
    return f"`{value:064x}"[:13] + "…`"


def compare(ours: list[DerivedAccount], theirs: list[dict[str, Any]]) -> Agreement:
    """Every output of every account; the leading-zero accounts must differ exactly as spec §4.3.4 says."""
    agreement = Agreement()
    for entry in theirs:
        index = int(entry["index"])
        account = ours[index]
        problems = []
        if entry["address"] != account.address:
            problems.append("address")
        api = entry["api_key"]
        if (api["key"], api["secret"], api["passphrase"]) != (
            account.api.key,
            account.api.secret.reveal(),
            account.api.passphrase.reveal(),
        ):
            problems.append("API credentials")
        if (
            entry["onboarding_signature"]
            != "0x" + account.onboarding_signature_for_request().to_bytes().hex()
        ):
            problems.append("onboarding signature")
        their_private = int(entry["stark_private_key"], 16)
        their_point = (int(entry["stark_public_key"], 16), int(entry["stark_public_key_y"], 16))
        web_app = account.stark.private_key.reveal()
        dydx3_rule = dict(account.stark_key_variants())[StarkKeyVariant.DYDX3_PYTHON]
        if web_app == dydx3_rule:
            if their_private != web_app or their_point != (
                account.stark.public_key,
                account.stark.public_key_y,
            ):
                problems.append("STARK key pair")
        else:
            # The stark-key signature starts with byte 00: dydx3 hashes fewer bytes, by design.
            pair = stark_key_pair(dydx3_rule)
            reproduced = their_private == dydx3_rule and their_point == (pair.public_key, pair.public_key_y)
            agreement.by_design.append(
                [
                    str(index),
                    f"`{account.address}`",
                    _short(account.stark.public_key),
                    _short(their_point[0]),
                    "yes" if reproduced else "**no**",
                ]
            )
            if not reproduced:
                problems.append("STARK key (leading-zero rule not reproduced)")
        if problems:
            agreement.mismatches.append(f"account {index}: {', '.join(problems)}")
        elif web_app == dydx3_rule:
            agreement.identical.append(index)
    return agreement


def _dydx3_section(ours: Ours, theirs: dict[str, Any], count: int, figures: dict[str, float]) -> list[str]:
    accounts = theirs["accounts"]
    their = Samples()
    for entry in accounts:
        seconds = entry["seconds"]
        bip32, client, onboarding = (
            seconds["bip32"],
            seconds["client_and_stark_key"],
            seconds["onboarding_signature"],
        )
        their.add("bip32", bip32)
        their.add("client", client)
        their.add("onboarding", onboarding)
        their.add("derive", client + onboarding)
        their.add("total", bip32 + client + onboarding)
        their.add("conservative", bip32 + client)
    versions = theirs["versions"]
    subset = "" if len(accounts) == count else f" (first {len(accounts)} accounts only)"
    ours_bip32, ours_derive, ours_total = (ours.samples.median(k) for k in ("bip32", "derive", "total"))
    figures["dydx3_total"] = their.median("total")
    figures["dydx3_import"] = theirs["import_seconds"]
    figures["dydx3_conservative"] = their.median("conservative")
    split = (
        f"client + `derive_stark_key` {ms(their.median('client'))}, "
        f"onboarding signature {ms(their.median('onboarding'))}"
    )
    rows: list[tuple[str, float, float, str]] = [
        ("BIP-32 key from the seed", ours_bip32, their.median("bip32"), ""),
        ("STARK pair + API credentials + onboarding signature", ours_derive, their.median("derive"), split),
        ("**total from the mnemonic**", ours_total, their.median("total"), ""),
        (
            "total without dydx3's second onboarding signature (in dydx3's favour)",
            ours_total,
            their.median("conservative"),
            "",
        ),
    ]
    agreement = compare(ours.accounts, accounts)
    figures["mismatches"] = len(agreement.mismatches)
    out = [
        table(
            ["per account", "ours", f"dydx-v3-python {versions['dydx-v3-python']}{subset}", "dydx3 / ours"],
            [
                _bold_if(
                    label.startswith("**"),
                    [label, ms(mine), ms(theirs_) + (f" ({note})" if note else ""), ratio(theirs_, mine)],
                )
                for label, mine, theirs_, note in rows
            ],
        ),
        "",
        f"dydx3 side: Python {theirs['python']}, web3 {versions['web3']}, "
        f"eth-account {versions['eth-account']}, eth-keys {versions['eth-keys']} with its "
        f"`{theirs['eth_keys_backend']}` (what `pip install dydx-v3-python==2.1.0` gives); "
        f"importing dydx3 took {s(theirs['import_seconds'])}.",
        "",
        f"**Agreement with dydx-v3-python** on {len(accounts)} accounts: "
        f"{len(agreement.identical)} identical in every output (address, STARK private key, public x and y, "
        "API key, secret and passphrase, onboarding signature); "
        f"{len(agreement.by_design)} differ by design; **{len(agreement.mismatches)} mismatches**.",
        "",
    ]
    if agreement.by_design:
        out += [
            "Accounts whose STARK-key signature starts with byte 00: dydx-v3-python hashes fewer bytes and "
            "derives another STARK key (spec §4.3 item 4); their API credentials and onboarding signature "
            "still agree.",
            "",
            table(
                ["account", "address", "our STARK key (web app)", "dydx3's STARK key", "= our dydx3 variant"],
                agreement.by_design,
            ),
            "",
        ]
    out += [f"- MISMATCH {mismatch}" for mismatch in agreement.mismatches]
    return out


def _bold_if(condition: bool, cells: list[str]) -> list[str]:
    return [cell if not condition or cell.startswith("**") else f"**{cell}**" for cell in cells]


def _floor_section(
    ours: Ours, floors: Samples, signature_matches: bool, figures: dict[str, float]
) -> list[str]:
    ours_derive = ours.samples.median("derive")
    eth_floor, bare_floor, stark_only = (floors.median(k) for k in ("eth-account", "bare", "stark"))
    figures["floor"] = eth_floor
    figures["bare_floor"] = bare_floor
    ours_label = "ours: `ColdKey` + `derive_account` (address, 2 signatures, STARK pair, API credentials)"
    rows: list[tuple[str, float]] = [
        (ours_label, ours_derive),
        ("floor: eth-account `Account.sign_typed_data` ×2 (coincurve backend) + one STARK k·G", eth_floor),
        ("bare floor: coincurve `sign_recoverable` ×2 on precomputed digests + one STARK k·G", bare_floor),
        ("of which one STARK k·G (fastecdsa 4, the fastest backend we ship)", stark_only),
    ]
    return [
        table(
            ["per account, from the Ethereum private key", "median", "ours / this"],
            [[label, ms(value), ratio(ours_derive, value)] for label, value in rows],
        ),
        "",
        f"eth-account's EIP-712 signature equals ours: {'yes' if signature_matches else '**no**'}. "
        "Ours can beat the eth-account floor because shared/dydx_v3/eip712.py encodes dYdX's two fixed "
        "structs "
        "directly instead of through a generic EIP-712 encoder; what it adds to the bare floor is the "
        "address (one Keccak), the two EIP-712 digests (re-hashed per account) and the API credentials "
        "(two Keccaks).",
        "",
    ]


def _batch_section(
    count: int, batches: dict[int, float], cli_wall: float | str, figures: dict[str, float], notes: list[str]
) -> list[str]:
    one = batches[1]
    figures["parallel_speedup"] = one / batches[max(batches)]
    rows = [
        [f"`derive_accounts_parallel`, {w} worker(s)", s(wall), ms(wall / count), ratio(one, wall)]
        for w, wall in sorted(batches.items())
    ]
    if isinstance(cli_wall, float):
        rows.append(
            [
                f"`dydx-offline derive --accounts 0-{count - 1}`: start-up, keys, derivation, vault, "
                f"{count} files, read-back",
                s(cli_wall),
                ms(cli_wall / count),
                "—",
            ]
        )
    else:
        notes.append(f"CLI batch derive {cli_wall}")
    return [
        table(
            [f"{count} accounts, keys loaded", "wall (median of 3)", "per account", "vs 1 worker"],
            rows,
        ),
        "",
        "The workers' speed-up needs idle cores: while other processes keep a core busy (see the load "
        "average above) it shrinks toward 1× or below.",
        "",
    ]


def run(
    count: int, dydx3_count: int, passes: int, dydx3: Path | None, notes: list[str]
) -> tuple[str, dict[str, float]]:
    """The P1 section's markdown, and the figures the summary table needs."""
    ours = time_ours(count, passes)
    floors, floor_signature_matches = time_floors(ours, passes)
    batches = time_batches(ours, repeats=3)
    cli_wall = time_cli_batch(count)
    theirs: dict[str, Any] | None = None
    if dydx3 is not None and dydx3_count > 0:
        try:
            theirs = run_dydx3(dydx3, min(dydx3_count, count))
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            notes.append(f"dydx-v3-python run failed: {exc}")

    figures = {"ours_total": ours.samples.median("total"), "ours_derive": ours.samples.median("derive")}
    out = [
        f"### P1 — derivation, accounts 0..{count - 1} of the test mnemonic (chain id {CHAIN_ID})",
        "",
        "Per account: BIP-32 key `m/44'/60'/0'/0/i`, then the STARK key pair, the default API credentials "
        f"and the onboarding signature. Medians of per-account times; ours over {passes} pass(es) of "
        f"{count} accounts.",
        "",
    ]
    if theirs is not None:
        out += _dydx3_section(ours, theirs, count, figures)
    else:
        rows = [(step, ours.samples.median(step)) for step in ("bip32", "derive", "total")]
        out += [
            table(["per account", "ours"], [[step, ms(value)] for step, value in rows]),
            "",
            "dydx-v3-python: not measured (see the notes).",
            "",
        ]
    out += _floor_section(ours, floors, floor_signature_matches, figures)
    out += _batch_section(count, batches, cli_wall, figures, notes)
    return "\n".join(out), figures
