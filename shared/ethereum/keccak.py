"""Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256).

pycryptodome's C code computes it. Its Python hash objects cost about 7 µs a call, and importing them costs
about 40 ms of start-up (its cffi layer parses C declarations with pycparser at import), while a batch hashes
hundreds of thousands of short inputs (addresses, EIP-712 members and digests). So the same C library,
``Crypto/Hash/_keccak``, is called through ctypes: each thread keeps one Keccak state and resets it per
call, about 3 µs. Should the library be missing or answer differently from the public API on known inputs,
the public API is used instead; tests/shared/test_keccak.py compares both on many inputs.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path


def _public(data: bytes) -> bytes:
    from Crypto.Hash import keccak

    return keccak.new(data=data, digest_bits=256).digest()


def _library_path() -> Path | None:
    spec = importlib.util.find_spec("Crypto")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = Path(location) / "Hash" / f"_keccak{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _through_ctypes() -> Callable[[bytes], bytes] | None:
    """keccak256 on a per-thread state of pycryptodome's C Keccak (capacity 64 bytes, 24 rounds, padding
    0x01: what ``keccak.new(digest_bits=256)`` asks of it)."""
    path = _library_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
        lib.keccak_init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
        lib.keccak_reset.argtypes = [ctypes.c_void_p]
        lib.keccak_absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.keccak_digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_ubyte]
        for function in (lib.keccak_init, lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest):
            function.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    local = threading.local()

    def state() -> tuple[ctypes.c_void_p, ctypes.Array[ctypes.c_char]]:
        found: tuple[ctypes.c_void_p, ctypes.Array[ctypes.c_char]] | None = getattr(local, "state", None)
        if found is None:
            pointer = ctypes.c_void_p()
            if lib.keccak_init(ctypes.byref(pointer), 64, 24):
                raise ValueError("cannot start a Keccak state")
            found = local.state = (pointer, ctypes.create_string_buffer(32))  # the thread's own
        return found

    def keccak256(data: bytes) -> bytes:
        raw = data if type(data) is bytes else bytes(data)
        pointer, out = state()
        if (
            lib.keccak_reset(pointer)
            or lib.keccak_absorb(pointer, raw, len(raw))
            or lib.keccak_digest(pointer, out, 32, 1)
        ):
            return _public(raw)
        return out.raw

    try:  # known answers, not the public API: importing that is the start-up cost avoided here
        if any(keccak256(probe).hex() != digest for probe, digest in _KNOWN.items()):
            return None
    except (OSError, ValueError, ctypes.ArgumentError):
        return None
    return keccak256


_KNOWN = {
    b"": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    b"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
}


_fast: Callable[[bytes], bytes] | None = None
_ready = False
_lock = threading.Lock()


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Ethereum Keccak-256 digest of ``data``."""
    global _fast, _ready
    if not _ready:
        with _lock:
            if not _ready:
                _fast, _ready = _through_ctypes(), True
    if _fast is not None:
        return _fast(data)
    return _public(bytes(data))
