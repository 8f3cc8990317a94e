"""Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256).

pycryptodome computes it. Its hash objects cost about 7 µs a call in Python around the C code, and a batch
hashes hundreds of thousands of short inputs (addresses, EIP-712 members and digests): so each thread keeps
one Keccak state of pycryptodome's own C library and resets it per call, about 3 µs. Should that library's
internal interface ever differ from the pinned version's, the public API is used instead;
tests/shared/test_keccak.py compares both on many inputs.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from Crypto.Hash import keccak as _keccak


def _public(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bits=256).digest()


def _reusing_state() -> Callable[[bytes], bytes] | None:
    """keccak256 on a per-thread pycryptodome Keccak state (rate 136 bytes, Keccak padding 0x01)."""
    try:
        # Internal interfaces, without type information: reached by name, checked below before use.
        lib: Any = importlib.import_module("Crypto.Hash.keccak")._raw_keccak_lib
        raw: Any = importlib.import_module("Crypto.Util._raw_api")
    except (ImportError, AttributeError):
        return None
    local = threading.local()
    size, padding = raw.c_size_t(32), raw.c_ubyte(0x01)

    def state() -> tuple[Any, Any]:
        found: tuple[Any, Any] | None = getattr(local, "state", None)
        if found is None:
            pointer = raw.VoidPointer()
            # Capacity 512 bits (2 × the digest) and 24 rounds: what keccak.new(digest_bits=256) asks for.
            if lib.keccak_init(pointer.address_of(), raw.c_size_t(64), raw.c_ubyte(24)):
                raise ValueError("cannot start a Keccak state")
            found = local.state = (pointer, raw.create_string_buffer(32))  # the thread's own state
        return found

    def keccak256(data: bytes) -> bytes:
        pointer, buffer = state()
        handle = pointer.get()
        if (
            lib.keccak_reset(handle)
            or lib.keccak_absorb(handle, raw.c_uint8_ptr(data), raw.c_size_t(len(data)))
            or lib.keccak_digest(handle, buffer, size, padding)
        ):
            return _public(data)
        return bytes(raw.get_raw_buffer(buffer))

    try:
        if keccak256(b"") != _public(b"") or keccak256(b"dydx") != _public(b"dydx"):
            return None
    except (AttributeError, TypeError, ValueError):
        return None
    return keccak256


_fast = _reusing_state()


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Ethereum Keccak-256 digest of ``data``."""
    if _fast is not None:
        return _fast(data)
    return _public(data)
