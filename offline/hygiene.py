"""Process hygiene for the cold signer: no core dumps, not ptrace-able by other users' processes.

Called before any secret is loaded. Python cannot wipe memory (SECURITY.md says so); these settings keep the
memory that holds secrets out of core files and away from same-user debuggers where the kernel allows it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def harden_process() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        if libc_name:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def process_is_dumpable() -> bool | None:
    """True/False on Linux, None where the question has no answer."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    return bool(ctypes.CDLL(libc_name).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
