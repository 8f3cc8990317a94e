"""Hardening checks with figures: bit flips in transfer payloads and the vault, crash-safe writes, and
signature malleability wherever we verify (kit spec/security.md §2, checks 6, 7, 9, 13)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dydx_airgap.offline.keys import vault as vault_module
from dydx_airgap.offline.keys.cold_key import ColdKey, derive_account
from dydx_airgap.shared.dydx_v3.signatures import verify_eth_private_signature, verify_onboarding_signature
from dydx_airgap.shared.errors import AirgapError, FormatError, InputError, SignatureError
from dydx_airgap.shared.ethereum.typed_signature import SECP256K1_N, TypedSignature
from dydx_airgap.shared.fsutil import atomic_write_bytes, atomic_write_many
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.transport.payload import decode_payload, new_payload

from .conftest import kit_vectors

FLIPS = int(os.environ.get("DYDX_AIRGAP_FLIPS", "10000"))
CRASH_RUNS = int(os.environ.get("DYDX_AIRGAP_CRASH_RUNS", "300"))
SIG_SAMPLES = int(os.environ.get("DYDX_AIRGAP_SIG_SAMPLES", "2000"))

V = kit_vectors()[4]
KEY = ColdKey(Secret(bytes.fromhex(V["eth_private_key"][2:])))


def sample_payloads() -> list[bytes]:
    account = derive_account(KEY, 1)
    sig = account.onboarding_signature_for_request().to_hex()
    rung = {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "signature": KEY.sign_eth_private_action(
            1, "POST", "/v3/api-keys", "{}", "2026-01-01T00:00:00.000Z"
        ).to_hex(),
    }
    bodies = [
        (
            "public-key",
            {
                "account": 0,
                "derivation_path": None,
                "stark_public_key": f"0x{account.stark.public_key:064x}",
                "stark_public_key_y": f"0x{account.stark.public_key_y:064x}",
                "key_variant": "web-app",
                "api_key": account.api.key,
            },
        ),
        (
            "onboarding-request",
            {
                "account": 0,
                "method": "POST",
                "request_path": "/v3/onboarding",
                "body": '{"starkKey":"0x1"}',
                "signature": sig,
                "stark_public_key": f"0x{account.stark.public_key:064x}",
                "stark_public_key_y": f"0x{account.stark.public_key_y:064x}",
            },
        ),
        (
            "eth-private-request",
            {
                "action": "api-key-create",
                "method": "POST",
                "request_path": "/v3/api-keys",
                "body": "{}",
                "rungs": [rung],
                "valid_from": "2025-12-31T23:59:30.000Z",
                "valid_until": "2026-01-01T00:00:30.000Z",
            },
        ),
        (
            "time",
            {
                "server_time": "2026-01-01T00:00:00.000Z",
                "relay_time": "2026-01-01T00:00:00.000Z",
                "source": "http://127.0.0.1:8300",
            },
        ),
    ]
    signer = KEY.origin_signer()
    return [
        new_payload(kind, 1, KEY.address, body, signer=signer).to_bytes()
        if kind != "time"
        else new_payload(kind, 1, None, body).to_bytes()
        for kind, body in bodies
    ]


def test_every_single_bit_flip_of_a_transfer_payload_is_rejected(figure) -> None:
    payloads = sample_payloads()
    rejected = 0
    for i in range(FLIPS):
        data = payloads[i % len(payloads)]
        bit = secrets.randbelow(len(data) * 8)
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FormatError):
            decode_payload(bytes(flipped))
        rejected += 1
    figure(f"tamper: {rejected}/{FLIPS} random single-bit flips of transfer payloads rejected (100 %)")


def test_every_single_bit_flip_of_a_vault_is_rejected(figure, monkeypatch) -> None:
    contents = {"format": "x", "accounts": [{"stark_private_key": "0x" + "12" * 32}]}
    data = vault_module.encrypt_vault(contents, Secret("passphrase"))
    # The real Argon2id runs for every distinct (salt, parameters); flips elsewhere reuse its result.
    real = vault_module._derive_key
    cache: dict[tuple, bytes] = {}

    def cached(passphrase, header):
        key = (header.salt, tuple(sorted(header.kdf.items())))
        if key not in cache:
            cache[key] = real(passphrase, header)
        return cache[key]

    monkeypatch.setattr(vault_module, "_derive_key", cached)
    flips = max(FLIPS // 5, 1000)
    for _ in range(flips):
        bit = secrets.randbelow(len(data) * 8)
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((InputError, FormatError)):
            vault_module.decrypt_vault(bytes(flipped), Secret("passphrase"))
    assert vault_module.decrypt_vault(data, Secret("passphrase")) == contents
    figure(
        f"tamper: {flips}/{flips} random single-bit flips of a vault rejected; "
        f"{len(cache)} distinct key derivations ran"
    )


def _writer(target: Path, old: bytes, new: bytes) -> None:
    while True:
        atomic_write_bytes(target, new, 0o600)
        atomic_write_bytes(target, old, 0o600)


def test_sigkill_during_writes_leaves_old_or_new_never_partial(tmp_path: Path, figure) -> None:
    target = tmp_path / "vault"
    old, new = b"O" * 300_000, b"N" * 200_000
    atomic_write_bytes(target, old, 0o600)
    seen = {b"O": 0, b"N": 0}
    for _ in range(CRASH_RUNS):
        pid = os.fork()
        if pid == 0:  # the writer
            try:
                _writer(target, old, new)
            finally:
                os._exit(0)
        time.sleep(secrets.randbelow(4000) / 1_000_000)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        content = target.read_bytes()
        assert content in (old, new), f"partial file of {len(content)} bytes"
        assert (target.stat().st_mode & 0o777) == 0o600
        seen[content[:1]] += 1
    # The next run of a writer (a new process) sweeps what killed writers left behind.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dydx_airgap.shared.fsutil import atomic_write_bytes;"
            "atomic_write_bytes(sys.argv[1], b'O' * 300_000, 0o600)",
            str(target),
        ],
        check=True,
        timeout=60,
    )
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "vault"]
    assert leftovers == []
    figure(
        f"crash safety: {CRASH_RUNS} SIGKILLs mid-write, 0 partial files "
        f"(old {seen[b'O']}, new {seen[b'N']}); stale temporaries removed by the next write"
    )


def _batch_writer(targets: list[Path], old: bytes, new: bytes) -> None:
    while True:
        atomic_write_many([(target, new) for target in targets], 0o600)
        atomic_write_many([(target, old) for target in targets], 0o600)


def test_sigkill_during_batch_writes_leaves_each_file_old_or_new(tmp_path: Path, figure) -> None:
    """The batch path (derive's public files): temporaries fsynced on threads, renamed, one directory
    fsync; a kill anywhere leaves every file whole."""
    targets = [tmp_path / f"public-{i:04d}.json" for i in range(40)]
    old, new = b"O" * 20_000, b"N" * 10_000
    atomic_write_many([(target, old) for target in targets], 0o600)
    mixed = 0
    runs = max(CRASH_RUNS // 3, 50)
    for _ in range(runs):
        pid = os.fork()
        if pid == 0:
            try:
                _batch_writer(targets, old, new)
            finally:
                os._exit(0)
        time.sleep(secrets.randbelow(20000) / 1_000_000)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        contents = {target.read_bytes() for target in targets}
        assert contents <= {old, new}, "a partial file"
        assert all((target.stat().st_mode & 0o777) == 0o600 for target in targets)
        mixed += len(contents) == 2
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from dydx_airgap.shared.fsutil import atomic_write_many;"
            "atomic_write_many([(Path(p), b'O') for p in sys.argv[1:]], 0o600)",
            *map(str, targets),
        ],
        check=True,
        timeout=60,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.name for t in targets)
    figure(
        f"crash safety: {runs} SIGKILLs mid-batch of 40 files, 0 partial files ({mixed} kills fell "
        "between renames: old and new files side by side, each whole); stale temporaries swept"
    )


def _variants(sig_hex: str) -> list[tuple[str, str]]:
    sig = TypedSignature.from_hex(sig_hex)
    raw = bytearray(sig.to_bytes())
    high = bytearray(raw)
    high[32:64] = (SECP256K1_N - sig.s).to_bytes(32, "big")
    high[64] = 55 - raw[64]
    out = [("high-s", "0x" + high.hex())]
    for v in (0, 1, 55 - raw[64], 29, 37):
        b = bytearray(raw)
        b[64] = v
        out.append((f"v={v}", "0x" + b.hex()))
    for t in (1, 2, 3, 4, 255):
        b = bytearray(raw)
        b[65] = t
        out.append((f"type={t}", "0x" + b.hex()))
    return out


def test_malleated_signatures_are_rejected_everywhere_we_verify(figure) -> None:
    checked = 0
    for i in range(SIG_SAMPLES // 12 + 1):
        ts = f"2026-01-01T00:00:{i % 60:02d}.{i % 1000:03d}Z"
        good = KEY.sign_eth_private_action(1, "POST", "/v3/api-keys", "{}", ts).to_hex()
        verify_eth_private_signature(1, "POST", "/v3/api-keys", "{}", ts, good, KEY.address)
        for _name, bad in _variants(good):
            with pytest.raises((SignatureError, AirgapError)):
                verify_eth_private_signature(1, "POST", "/v3/api-keys", "{}", ts, bad, KEY.address)
            checked += 1
    onboarding = derive_account(KEY, 1).onboarding_signature_for_request().to_hex()
    for _name, bad in _variants(onboarding):
        with pytest.raises((SignatureError, AirgapError)):
            verify_onboarding_signature(1, bad, KEY.address)
        checked += 1
    figure(f"signatures: {checked}/{checked} high-s, wrong-v or wrong-type-byte variants rejected (100 %)")


def test_signer_output_is_always_low_s(figure) -> None:
    n = SIG_SAMPLES
    for i in range(n):
        sig = KEY.sign_eth_private_action(
            1, "GET", "/v3/recovery", "{}", f"2026-01-01T00:00:00.{i % 1000:03d}Z{i}"
        )
        assert sig.s <= SECP256K1_N // 2
    figure(f"signatures: {n}/{n} signer outputs low-s")
