"""offline/keys/batch.py: forked workers give exactly the serial results, through pipes, never through a socket."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dydx_airgap.offline.keys import batch
from dydx_airgap.offline.keys.cold_key import ColdKey, DerivedAccount, derive_account
from dydx_airgap.offline.keys.derive import derive_to_directory, public_payload, vault_entry
from dydx_airgap.offline.keys.sources import DEFAULT_PATH_TEMPLATE, AccountKey
from dydx_airgap.offline.keys.vault import read_vault
from dydx_airgap.shared.canonical_json import canonical_dumps
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.stark import private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.transport.payload import decode_payload
from tests.conftest import TEST_MNEMONIC, write_secret

MAINNET = get_network(1)


def mnemonic_keys(count: int) -> list[AccountKey]:
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    seed = seed_from_mnemonic(TEST_MNEMONIC, "")
    keys = []
    for index in range(count):
        path = DEFAULT_PATH_TEMPLATE.format(index=index)
        keys.append(AccountKey(index, path, ColdKey(Secret(bytes(key_from_seed(seed, path))))))
    return keys


def everything_derived(key: AccountKey, account: DerivedAccount) -> bytes:
    """All an account yields, as bytes: public record body, vault entry, onboarding signature, variants."""
    public = public_payload(MAINNET, key, account).body
    return canonical_dumps(
        {
            "public": public,
            "vault": vault_entry(MAINNET, key, account),
            "onboarding_signature": account.onboarding_signature_for_request().to_bytes().hex(),
            "variants": [[v.value, hex(private)] for v, private in account.stark_key_variants()],
        }
    )


@pytest.fixture(scope="module")
def keys() -> list[AccountKey]:
    return mnemonic_keys(7)


def refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket the code under test (or a forked worker, which inherits this) makes raises."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a socket was created")

    for name in ("socket", "socketpair", "create_connection", "fromfd", "create_server"):
        monkeypatch.setattr(socket, name, refuse)


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_derivation_is_byte_identical_to_serial(keys: list[AccountKey], workers: int) -> None:
    serial = [derive_account(key.key, 1) for key in keys]
    parallel = batch.derive_accounts_parallel([key.key for key in keys], 1, workers=workers)
    assert [everything_derived(k, a) for k, a in zip(keys, parallel, strict=True)] == [
        everything_derived(k, a) for k, a in zip(keys, serial, strict=True)
    ]
    assert parallel[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert len({a.stark.public_key for a in parallel}) == len(keys)
    # The derivation signature crossed the pipe intact: the account still recognises it.
    assert all(
        p.matches_stark_key_signature(s._stark_key_signature.reveal())
        for p, s in zip(parallel, serial, strict=True)
    )


def test_workers_use_pipes_not_sockets(keys: list[AccountKey], monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_sockets(monkeypatch)
    cold_keys = [key.key for key in keys]
    # The worker path itself must succeed (a refused socket would make it return None and fall back).
    chunks = batch.run_in_workers(
        len(cold_keys),
        lambda start, stop: b"".join(
            derive_account(key, 1).api.key.encode() for key in cold_keys[start:stop]
        ),
        2,
    )
    assert chunks is not None and len(chunks) == 2
    expected = [derive_account(key, 1).api.key for key in cold_keys]
    assert b"".join(chunks).decode() == "".join(expected)
    with pytest.raises(RuntimeError, match="socket was created"):
        socket.socket()  # the guard is live in this process, hence in every worker forked from it


def fail_in_second_worker(start: int, stop: int) -> bytes:
    if start > 0:
        raise ValueError("this worker fails")
    return b"ok"


def test_public_points_match_and_a_failing_worker_falls_back_to_the_typed_error() -> None:
    private_keys = [3, 2**250 + 12345, 0x5A9FF246A183EFB89812780CD09665715B108BD3B639A407196C0596E72D8FB]
    assert batch.stark_public_points_parallel(private_keys, workers=2) == [
        private_key_to_ec_point_on_stark_curve(k) for k in private_keys
    ]
    assert batch.run_in_workers(2, fail_in_second_worker, 2) is None
    # Key 0 is invalid: the worker fails, the serial path then raises the usual one-line InputError.
    with pytest.raises(InputError, match=r"\[1, EC_ORDER\)"):
        batch.stark_public_points_parallel([5, 0, 7], workers=3)


def test_worker_count_and_ranges() -> None:
    assert batch.worker_count(None, batch.PARALLEL_MIN_ITEMS - 1) == 1
    assert batch.worker_count(None, batch.PARALLEL_MIN_ITEMS) == min(
        batch.available_cpus(), batch.MAX_WORKERS
    )
    assert batch.worker_count(5, 3) == 3
    assert batch.worker_count(1, 1000) == 1
    for bad in (0, -1, True):
        with pytest.raises(InputError):
            batch.worker_count(bad, 10)
    assert batch.split_range(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert batch.split_range(2, 2) == [(0, 1), (1, 2)]


WORKER_HYGIENE = """
import sys
from dydx_airgap.offline import hygiene
from dydx_airgap.offline.keys import batch
hygiene.harden_process()
answers = batch.run_in_workers(
    2, lambda start, stop: b"not dumpable" if hygiene.process_is_dumpable() is False else b"DUMPABLE", 2
)
print(answers)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl dumpable flag is Linux-only")
def test_workers_inherit_the_parents_process_hygiene() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER_HYGIENE], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[b'not dumpable', b'not dumpable']", proc.stdout + proc.stderr


def _directory_contents(out: Path, passphrase: Secret[str]) -> tuple[list[bytes], bytes]:
    bodies = [
        canonical_dumps(decode_payload(path.read_bytes()).body) for path in sorted(out.glob("public-*.json"))
    ]
    return bodies, canonical_dumps(read_vault(out / "vault.dydx-vault", passphrase))


def test_derive_to_directory_parallel_writes_what_serial_writes(
    tmp_path: Path, keys: list[AccountKey]
) -> None:
    passphrase = Secret("vault pass")
    serial = derive_to_directory(MAINNET, keys, tmp_path / "serial", passphrase, False, workers=1)
    parallel = derive_to_directory(MAINNET, keys, tmp_path / "parallel", passphrase, False, workers=2)
    assert [r.payload.body for r in serial] == [r.payload.body for r in parallel]
    assert _directory_contents(tmp_path / "serial", passphrase) == _directory_contents(
        tmp_path / "parallel", passphrase
    )


# The cold CLI with socket creation disabled, counting the worker processes it starts.
COUNTING_NO_SOCKETS = """
import atexit, socket, sys
import multiprocessing.process as mp_process
def refuse(*a, **k):
    raise RuntimeError("the cold package tried to open a socket")
for name in ("socket", "socketpair", "create_connection", "fromfd", "create_server", "getaddrinfo"):
    setattr(socket, name, refuse)
started = []
original_start = mp_process.BaseProcess.start
def counting_start(self):
    started.append(1)
    return original_start(self)
mp_process.BaseProcess.start = counting_start
atexit.register(lambda: sys.stderr.write(f"workers started: {len(started)}\\n"))
from dydx_airgap.offline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_derives_a_large_batch_in_workers_without_sockets(tmp_path: Path) -> None:
    count = batch.PARALLEL_MIN_ITEMS + 2
    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass")
    args = ["derive", "--mnemonic-file", mn, "--network", "1", "--accounts", f"0-{count - 1}", "--out", "d"]
    proc = subprocess.run(
        [sys.executable, "-c", COUNTING_NO_SOCKETS, *map(str, args), "--vault-password-file", str(vp)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "socket" not in proc.stderr and "Traceback" not in proc.stderr
    if batch.available_cpus() > 1:
        # Derivation ran in one worker per CPU; the read-back compares with memory and forks none.
        workers = min(batch.available_cpus(), batch.MAX_WORKERS)
        assert f"workers started: {workers}" in proc.stderr, proc.stderr
    expected = mnemonic_keys(count)
    bodies, vault = _directory_contents(tmp_path / "d", Secret("vault pass"))
    serial = [derive_account(key.key, 1) for key in expected]
    assert bodies == [
        canonical_dumps(public_payload(MAINNET, k, a).body) for k, a in zip(expected, serial, strict=True)
    ]
    assert json.loads(vault)["accounts"] == [
        vault_entry(MAINNET, k, a) for k, a in zip(expected, serial, strict=True)
    ]


def test_derive_v4_in_workers_writes_what_serial_writes(tmp_path: Path, keys: list[AccountKey]) -> None:
    """The v4 batch: accounts, public bodies and vault entries identical whether derived serially or in
    workers (their secrets cross the pipe only from a worker to its parent)."""
    from dydx_airgap.offline.keys.v4_derive import V4Source, derive_v4_to_directory
    from dydx_airgap.shared.dydx_v4.networks import MAINNET as V4_MAINNET

    network = V4_MAINNET
    sources = [V4Source(key.index, key) for key in keys]
    passphrase = Secret("vault pass")
    serial = derive_v4_to_directory(network, sources, tmp_path / "s", passphrase, False, workers=1)
    parallel = derive_v4_to_directory(network, sources, tmp_path / "p", passphrase, False, workers=2)
    assert [r.payload.body for r in serial] == [r.payload.body for r in parallel]
    assert [r.account for r in serial] == [r.account for r in parallel]
    assert [r.onboarding_signature.reveal() for r in serial if r.onboarding_signature] == [
        r.onboarding_signature.reveal() for r in parallel if r.onboarding_signature
    ]
    assert (
        read_vault(tmp_path / "s" / "vault.dydx-vault", passphrase)["v4_accounts"]
        == read_vault(tmp_path / "p" / "vault.dydx-vault", passphrase)["v4_accounts"]
    )
