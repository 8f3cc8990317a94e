"""The vault (Argon2id + AES-GCM) and careful file I/O: permissions, atomicity, untrusted reads."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from dydx_airgap.offline.keys.vault import (
    decrypt_vault,
    encrypt_vault,
    new_vault_key,
    read_vault,
    write_vault,
)
from dydx_airgap.shared import fsutil
from dydx_airgap.shared.errors import FormatError, InputError
from dydx_airgap.shared.fsutil import (
    atomic_write_bytes,
    atomic_write_many,
    make_secret_dir,
    read_secret_file,
    read_untrusted_file,
)
from dydx_airgap.shared.secret import Secret

CONTENTS = {"format": "x", "accounts": [{"stark_private_key": "0x" + "12" * 32}]}


def test_vault_round_trip_and_fresh_randomness() -> None:
    a = encrypt_vault(CONTENTS, Secret("correct horse"))
    b = encrypt_vault(CONTENTS, Secret("correct horse"))
    assert a != b  # fresh salt and nonce each time
    assert decrypt_vault(a, Secret("correct horse")) == CONTENTS
    assert b"12121212" not in a


def test_a_vault_key_made_ahead_encrypts_once_and_keeps_its_secret() -> None:
    """derive runs Argon2id beside its workers: the key it makes ahead opens with the passphrase, and its
    nonce can never encrypt twice."""
    prepared = new_vault_key(Secret("correct horse"))
    assert "secret" in repr(prepared) and prepared.header.salt.hex() not in repr(prepared)
    data = encrypt_vault(CONTENTS, Secret("correct horse"), prepared)
    assert decrypt_vault(data, Secret("correct horse")) == CONTENTS
    with pytest.raises(InputError, match="used once"):
        encrypt_vault(CONTENTS, Secret("correct horse"), prepared)
    with pytest.raises(TypeError):
        pickle.dumps(new_vault_key(Secret("correct horse")))


def test_wrong_passphrase_is_an_authenticated_failure() -> None:
    data = encrypt_vault(CONTENTS, Secret("correct horse"))
    for wrong in ("correct hors", "Correct horse", "correct horse "):
        with pytest.raises(InputError, match="wrong vault passphrase"):
            decrypt_vault(data, Secret(wrong))


def test_every_tested_bit_flip_is_rejected() -> None:
    data = encrypt_vault(CONTENTS, Secret("pass-phrase"))
    # A spread of positions across magic, header and ciphertext; issue #8's check runs 10,000 flips.
    positions = sorted({int(i * (len(data) * 8 - 1) / 199) for i in range(200)})
    for bit in positions:
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((InputError, FormatError)):
            decrypt_vault(bytes(flipped), Secret("pass-phrase"))


def test_secret_files_are_0600_from_creation_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        d = make_secret_dir(tmp_path / "s")
        write_vault(d / "v", CONTENTS, Secret("pass-phrase"))
        public = atomic_write_bytes(tmp_path / "public.json", b"{}", 0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "v").stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert read_vault(d / "v", Secret("pass-phrase")) == CONTENTS
    assert [p.name for p in d.iterdir()] == ["v"]  # no temporary file left behind


def test_readable_secret_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "v"
    write_vault(p, CONTENTS, Secret("pass-phrase"))
    os.chmod(p, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        read_secret_file(p)


def test_untrusted_reads_refuse_links_devices_and_oversize(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"x" * 100)
    link = tmp_path / "l"
    link.symlink_to(target)
    with pytest.raises(InputError, match="symbolic link"):
        read_untrusted_file(link)
    with pytest.raises(InputError, match="regular file"):
        read_untrusted_file("/dev/null")
    with pytest.raises(InputError, match="limit"):
        read_untrusted_file(target, cap=99)
    with pytest.raises(InputError, match="not a regular file"):
        read_untrusted_file(tmp_path)
    assert read_untrusted_file(target) == b"x" * 100


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    atomic_write_bytes(p, b"old" * 1000)
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f"]


def _dead_pid() -> int:
    """A pid that no process has: a child that has exited and been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.mark.parametrize("count", [3, 40])  # the serial path and the threaded one
def test_batch_write_installs_every_file_with_its_mode_and_leaves_no_temporary(
    tmp_path: Path, count: int
) -> None:
    old = os.umask(0)
    try:
        d = make_secret_dir(tmp_path / "s")
        files = [(d / f"f{i}", f"content {i}".encode() * (i + 1)) for i in range(count)]
        atomic_write_bytes(d / "f0", b"old")
        assert atomic_write_many(files, 0o600) == [path for path, _ in files]
    finally:
        os.umask(old)
    for path, data in files:
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in d.iterdir()) == sorted(f"f{i}" for i in range(count))


def test_batch_write_falls_back_to_an_fsync_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where syncfs is missing or fails, every temporary is fsynced before the first rename."""
    synced: list[str] = []
    real_fsync_file = fsutil._fsync_file
    real_install = fsutil._install

    def counting(path: Path) -> None:
        synced.append(path.name)
        real_fsync_file(path)

    def install(tmp: Path, target: Path) -> None:
        assert len(synced) == 40, "a rename before every temporary was durable"
        real_install(tmp, target)

    monkeypatch.setattr(fsutil, "_syncfs", lambda directory: False)
    monkeypatch.setattr(fsutil, "_fsync_file", counting)
    monkeypatch.setattr(fsutil, "_install", install)
    files = [(tmp_path / f"f{i}", b"data %d" % i) for i in range(40)]
    atomic_write_many(files)
    assert all(path.read_bytes() == data for path, data in files)
    if fsutil._syncfs_available():
        assert len(synced) == 40


def test_batch_write_that_fails_changes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [(tmp_path / f"f{i}", b"new") for i in range(40)]
    for path, _ in files:
        path.write_bytes(b"old")
    real = fsutil._write_temporary

    def failing(target: Path, tmp: Path, data: bytes, mode: int, fsync: bool = True) -> None:
        if target.name == "f17":
            raise InputError(f"cannot write {target}: No space left on device")
        real(target, tmp, data, mode, fsync)

    monkeypatch.setattr(fsutil, "_write_temporary", failing)
    with pytest.raises(InputError, match="f17"):
        atomic_write_many(files)
    assert all(path.read_bytes() == b"old" for path, _ in files)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{i}" for i in range(40))
    with pytest.raises(InputError, match="twice"):
        atomic_write_many([(tmp_path / "a", b"1"), (tmp_path / "a", b"2")])


def test_stale_temporaries_are_swept_with_one_scan_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _dead_pid()
    stale = [tmp_path / f".f{i}.{dead}.0123456789ab.tmp" for i in range(5)]
    alive = tmp_path / f".f1.{os.getppid()}.0123456789ab.tmp"  # a live writer's: kept
    unrelated = tmp_path / ".f1.notapid.tmp"
    for path in [*stale, alive, unrelated]:
        path.write_bytes(b"partial")
    scans: list[str] = []
    real_scandir = os.scandir

    def counting(path: os.PathLike[str] | str) -> object:
        scans.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(fsutil, "_swept", set())
    monkeypatch.setattr(fsutil.os, "scandir", counting)
    atomic_write_many([(tmp_path / f"f{i}", b"x") for i in range(50)])
    for i in range(50, 60):
        atomic_write_bytes(tmp_path / f"f{i}", b"x")
    assert len(scans) == 1
    assert not any(path.exists() for path in stale)
    assert alive.exists() and unrelated.exists()


def test_secret_repr_is_redacted() -> None:
    s = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    try:
        raise ValueError(s)
    except ValueError as exc:
        assert "hunter2" not in str(exc)


def test_secrets_stay_redacted_in_tracebacks_even_with_locals() -> None:
    import traceback

    from dydx_airgap.offline.keys.cold_key import ColdKey

    def failing(secret: Secret[str], key: ColdKey) -> None:
        also = {"passphrase": secret}
        raise RuntimeError(f"failed with {secret} and {also}")

    raw = bytes(range(1, 33))
    value = "-".join(["hunter2", "very", "secret"])  # built at run time: the source line shows no secret
    key = ColdKey(Secret(raw))
    try:
        failing(Secret(value), key)
    except RuntimeError as exc:
        # From the failing function down: the test's own frame holds the plain value on purpose.
        inner = traceback.TracebackException(type(exc), exc, exc.__traceback__.tb_next, capture_locals=True)
        rendered = "".join(inner.format())
    assert "Secret(<redacted>)" in rendered and "ColdKey(address=" in rendered
    assert value not in rendered and raw.hex()[:16] not in rendered


def test_every_vault_written_opens_and_one_too_large_to_open_is_never_written(tmp_path: Path) -> None:
    """read_vault refuses files over MAX_VAULT_BYTES, so encrypt_vault refuses contents that would make one."""
    from dydx_airgap.offline.keys.vault import _FILE_OVERHEAD, MAX_VAULT_BYTES
    from dydx_airgap.shared.canonical_json import canonical_dumps
    from dydx_airgap.shared.errors import PolicyError

    limit = MAX_VAULT_BYTES - _FILE_OVERHEAD
    empty = len(canonical_dumps({"format": "x", "accounts": [{"pad": ""}]}))
    largest = {"format": "x", "accounts": [{"pad": "a" * (limit - empty)}]}
    assert len(canonical_dumps(largest)) == limit
    path = tmp_path / "vault"
    write_vault(path, largest, Secret("correct horse battery"))
    assert read_vault(path, Secret("correct horse battery")) == largest
    larger = {"format": "x", "accounts": [{"pad": "a" * (limit - empty + 1)}]}
    before = path.read_bytes()
    with pytest.raises(PolicyError, match=r"1 accounts would be 16\.0 MiB.*nothing was written"):
        write_vault(path, larger, Secret("correct horse battery"))
    assert path.read_bytes() == before


# derive with the vault's cap lowered so that 40 accounts pass the early estimate but exceed the cap once
# encrypted (the code path of ~30,000 real ones).
SMALL_VAULT = """
import sys
from dydx_airgap.offline.keys import vault
vault.MAX_VAULT_BYTES = 24_000
from dydx_airgap.offline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_derive_refuses_a_vault_too_large_to_open_and_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import TEST_MNEMONIC, write_secret

    mn = write_secret(tmp_path / "mn", TEST_MNEMONIC)
    vp = write_secret(tmp_path / "vp", "vault pass phrase")
    out = tmp_path / "keys"

    def derive(accounts: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SMALL_VAULT, "derive", "--mnemonic-file", str(mn), "--network", "1",
             "--accounts", accounts, "--out", str(out), "--vault-password-file", str(vp)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    assert derive("0-1").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = derive("0-39")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "40 accounts would be" in line and "nothing was written" in line and "--out" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no new file, no temporary, vault kept


def test_a_range_too_large_for_one_vault_is_refused_before_any_key_is_loaded(tmp_path: Path) -> None:
    """100,000 accounts cannot fit in one vault whatever their entries: refused before a key is loaded or a
    passphrase asked for, with nothing created. The mnemonic's checksum is wrong on purpose: loading the
    keys would report that instead."""
    from tests.conftest import run_tool, write_secret

    bad = write_secret(tmp_path / "mn", " ".join(["test"] * 12))
    for command, network in (("derive", ["--network", "1"]), ("derive-v4", ["--v4-network", "mainnet"])):
        result = run_tool("dydx-offline", command, "--mnemonic-file", bad, *network, "--accounts", "0-99999",
                          "--out", tmp_path / command, cwd=tmp_path)  # fmt: skip
        assert result.code == 1 and "Traceback" not in result.err, result
        assert "100,000 accounts cannot fit in one vault" in result.err, result.err
        assert "smaller ranges" in result.err and "nothing was written" in result.err
        assert not (tmp_path / command).exists()
        fits = run_tool("dydx-offline", command, "--mnemonic-file", bad, *network, "--accounts", "0-9",
                        "--out", tmp_path / command, cwd=tmp_path)  # fmt: skip
        assert fits.code == 1 and "checksum" in fits.err, fits  # a range that fits gets as far as the keys
