"""Keccak-256: the per-thread state path gives pycryptodome's public digests, on every length around the
rate (136 bytes) and from several threads at once."""

from __future__ import annotations

import hashlib
import threading

from Crypto.Hash import keccak

from dydx_airgap.shared.ethereum import keccak as module
from dydx_airgap.shared.ethereum.keccak import keccak256


def _public(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


def test_known_digests() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert module._fast is not None  # the pinned pycryptodome's C library is reached through ctypes


def test_every_length_around_the_rate_equals_the_public_api() -> None:
    for length in range(0, 600):
        data = hashlib.sha512(b"%d" % length).digest() * (length // 64 + 1)
        assert keccak256(data[:length]) == _public(data[:length]), length
    assert keccak256(bytearray(b"x" * 200)) == _public(b"x" * 200)
    assert keccak256(memoryview(b"y" * 300)) == _public(b"y" * 300)


def test_threads_have_their_own_state() -> None:
    wrong: list[int] = []

    def work(seed: int) -> None:
        for i in range(2000):
            data = b"%d-%d" % (seed, i) * (i % 50)
            if keccak256(data) != _public(data):
                wrong.append(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
