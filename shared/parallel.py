"""Work spread over every core in forked worker processes, answering over one-way pipes.

The cold side's batch derivation (offline/keys/batch.py) and the auditor's bundle checks (shared/evidence/
verify.py) both split a long list of independent items into contiguous ranges, one per worker:

* **fork** (never spawn or forkserver): a worker inherits what the parent holds, so nothing is pickled,
  written to a file or passed on a command line on its way *to* a worker;
* answers come back over one-way pipes (``os.pipe`` behind multiprocessing's ``Pipe(duplex=False)``) as
  bytes the caller encodes (the cold side: fixed binary records, never pickles of secrets); nothing here
  creates a socket (tests/offline/test_batch.py proves it with socket creation disabled);
* a worker answers slice by slice (:data:`SLICE_ITEMS` items), so the parent can show progress.

A worker that fails, dies or answers malformed data makes :func:`run_in_workers` return None and the caller
computes serially, which gives the same outcome. Workers ignore Ctrl-C; the parent handles it and ends
them. Only Linux forks here, and only a process that runs a single thread (forking one that runs more can
deadlock the child).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar, cast

from dydx_airgap.shared.errors import InputError
from dydx_airgap.shared.progress import Advance

#: Smaller batches stay serial: forking breaks even near 16 accounts on two cores and gains ~1.4× at 32,
#: ~1.75× at 1,000 (measured with the bench's batch rows on an idle machine).
PARALLEL_MIN_ITEMS = 32
#: More workers than this only add memory and fork time on the machines a cold signer runs on.
MAX_WORKERS = 8
#: A worker answers after every this many items: often enough for a progress display, rarely enough that
#: messages cost nothing.
SLICE_ITEMS = 64

_OK, _FAILED, _MORE = b"\x00", b"\x01", b"\x02"

Work = Callable[[int, int], bytes]
"""Computes the records of items [start, stop) and returns them concatenated."""

_T = TypeVar("_T")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def worker_count(requested: int | None, items: int) -> int:
    """How many workers a batch of ``items`` gets: 1 means the serial path.

    ``None`` picks automatically (every available CPU, for batches of at least PARALLEL_MIN_ITEMS); an
    explicit number is honoured up to one worker per item. Platforms other than Linux (no fork, or a fork
    that system libraries do not support) and processes that already run threads (forking those can
    deadlock the child) always get the serial path.
    """
    if requested is not None and (isinstance(requested, bool) or requested < 1):
        raise InputError("the number of workers must be a positive integer")
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    if requested is None:
        requested = min(available_cpus(), MAX_WORKERS) if items >= PARALLEL_MIN_ITEMS else 1
    return max(1, min(requested, items))


def split_range(items: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of ``parts`` contiguous ranges covering 0..items, sizes differing by at most 1."""
    size, extra = divmod(items, parts)
    bounds = []
    start = 0
    for part in range(parts):
        stop = start + size + (1 if part < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def run_in_workers(
    items: int,
    work: Work,
    workers: int,
    progress: Advance | None = None,
    after_fork: Callable[[], None] | None = None,
) -> list[bytes] | None:
    """Run ``work`` over ``workers`` contiguous ranges of 0..items in forked processes.

    Returns each range's bytes in order, or None if any worker failed (the caller then runs serially).
    Each worker answers slice by slice (SLICE_ITEMS items); ``progress(n)`` is called as slices arrive.
    ``after_fork`` is called once every worker is started (a thread may start then).
    """
    context = multiprocessing.get_context("fork")
    # A child flushes the stdio buffers it inherited when it ends: empty them first, or output repeats.
    sys.stdout.flush()
    sys.stderr.flush()
    processes: list[multiprocessing.process.BaseProcess] = []
    readers: dict[Connection, int] = {}
    # Objects the workers inherit are left out of their garbage collections: a collection writes to every
    # object it visits, which would copy each page of the parent's heap into every worker.
    gc.freeze()
    ranges = split_range(items, workers)
    answers: dict[int, list[bytes]] = {position: [] for position in range(len(ranges))}
    received = [0] * len(ranges)  # items answered so far, per worker
    finished: set[int] = set()
    try:
        for position, (start, stop) in enumerate(ranges):
            # duplex=False is what makes this an os.pipe: a duplex Pipe would be a socketpair.
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_worker_main, args=(work, start, stop, writer), daemon=True)
            process.start()
            # Keep only the reading end: a dead worker then reads as end-of-file instead of hanging, and
            # later workers do not inherit a writing end that is not theirs.
            writer.close()
            processes.append(process)
            readers[reader] = position
        gc.unfreeze()
        if after_fork is not None:
            after_fork()
        while len(finished) < len(readers):
            for ready in wait([r for r, p in readers.items() if p not in finished]):
                connection = cast(Connection, ready)
                position = readers[connection]
                try:
                    answer = connection.recv_bytes()
                except (EOFError, OSError):
                    return None
                start, stop = ranges[position]
                if answer[:1] == _MORE and received[position] < stop - start:
                    answers[position].append(answer[1:])
                    done = min(SLICE_ITEMS, stop - start - received[position])
                    received[position] += done
                    if progress is not None:
                        progress(done)
                elif answer == _OK and received[position] == stop - start:
                    finished.add(position)
                else:
                    return None
    finally:
        gc.unfreeze()
        for reader in readers:
            reader.close()
        for started in processes:
            if started.is_alive():
                started.terminate()
            started.join()
    return [b"".join(answers[position]) for position in range(len(readers))]


def _worker_main(work: Work, start: int, stop: int, writer: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for first in range(start, stop, SLICE_ITEMS):
            writer.send_bytes(_MORE + work(first, min(first + SLICE_ITEMS, stop)))
        writer.send_bytes(_OK)
    except BaseException:  # noqa: BLE001 - report failure only: an exception's text could quote a secret
        with contextlib.suppress(OSError):  # the parent is gone or gave up on us: nothing is left to do
            writer.send_bytes(_FAILED)
    finally:
        writer.close()


def map_public(
    function: Callable[[Any], _T],
    items: Sequence[Any],
    advance: Advance | None = None,
    min_items: int = 256,
    workers: int | None = None,
) -> list[_T]:
    """``[function(item) for item in items]``, on every core when there are at least ``min_items``.

    For **public** data only: the answers come back pickled (only ever read by the process that forked the
    worker), so nothing secret may be an item or an answer — the cold side's batches use
    :func:`run_in_workers` with fixed binary records instead. A worker that fails changes nothing: the list
    is then computed here, with the same result.
    """
    count = worker_count(workers, len(items)) if len(items) >= min_items else 1
    if count > 1:

        def work(start: int, stop: int) -> bytes:
            data = pickle.dumps([function(item) for item in items[start:stop]])
            return len(data).to_bytes(8, "big") + data

        chunks = run_in_workers(len(items), work, count, advance)
        if chunks is not None:
            out: list[_T] = []
            blob = b"".join(chunks)
            offset = 0
            while offset + 8 <= len(blob):
                size = int.from_bytes(blob[offset : offset + 8], "big")
                out.extend(pickle.loads(blob[offset + 8 : offset + 8 + size]))  # noqa: S301 - our own fork
                offset += 8 + size
            if offset == len(blob) and len(out) == len(items):
                return out
    results = []
    for item in items:
        results.append(function(item))
        if advance is not None:
            advance(1)
    return results
