"""Deriving many accounts at once on every core, with no socket and no secret leaving the process tree.

Per account, one STARK scalar multiplication costs about nine tenths of the derivation and holds one core;
market makers derive hundreds of accounts on old two-core laptops. Large batches are therefore split into
contiguous ranges, one per forked worker process:

* **fork** (never spawn or forkserver): a worker inherits the keys already in the parent's memory, so no
  secret is pickled, written to a file or passed on a command line on its way *to* a worker;
* results come back over one-way pipes (``os.pipe`` behind multiprocessing's ``Pipe(duplex=False)``), as
  fixed-size binary records rather than pickles; nothing here creates a socket, and
  ``tests/test_batch.py`` proves it with socket creation disabled;
* the parent rebuilds exactly the objects the serial path returns, so files written from them are
  byte-identical (``tests/test_batch.py`` compares both paths).

A worker that fails, dies or answers malformed data never changes an outcome: the parent then computes the
whole batch serially, which either succeeds or raises the project's typed error with its usual message.
Workers ignore Ctrl-C; the parent handles it and ends them. The workers themselves (fork, one-way pipes,
answers slice by slice for a progress display) are shared/parallel.py's, which the auditor's tool uses too.

Large batches compute k·G with the precomputed generator table (shared/stark/fixed_base.py, about six times
faster than fastecdsa's general multiplication once built); it is built before forking, so every worker
inherits one copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from dydx_airgap.offline.keys.cold_key import ColdKey, DerivedAccount, StarkKeyPair, derive_account
from dydx_airgap.shared.dydx_v3.derivation import api_credentials_from_onboarding_signature
from dydx_airgap.shared.dydx_v3.variants import (
    DEFAULT_VARIANT,
    StarkKeyVariant,
    stark_private_key_for_variant,
)
from dydx_airgap.shared.parallel import (  # re-exported: the cold side's batch code names them here
    MAX_WORKERS,
    PARALLEL_MIN_ITEMS,
    SLICE_ITEMS,
    available_cpus,
    run_in_workers,
    split_range,
    worker_count,
)
from dydx_airgap.shared.progress import Advance
from dydx_airgap.shared.secret import Secret
from dydx_airgap.shared.stark import is_point_on_curve, private_key_to_ec_point_on_stark_curve
from dydx_airgap.shared.stark.fixed_base import GeneratorTable, generator_table

#: From this many STARK keys on, building the generator table (about 0.1 s) pays for itself.
TABLE_MIN_KEYS = 256
_SIGNATURE_BYTES = 66
_COORDINATE_BYTES = 32
# stark-key signature ‖ onboarding signature ‖ personal-sign stark-key signature (zeros unless the variant
# is the legacy one) ‖ public x ‖ public y
_ACCOUNT_RECORD_BYTES = 3 * _SIGNATURE_BYTES + 2 * _COORDINATE_BYTES
_POINT_RECORD_BYTES = 2 * _COORDINATE_BYTES


def table_for(keys: int) -> GeneratorTable | None:
    """The generator table when a batch of ``keys`` STARK keys is large enough to pay for building it."""
    return generator_table() if keys >= TABLE_MIN_KEYS else None


def derive_accounts_parallel(
    keys: Sequence[ColdKey],
    chain_id: int,
    workers: int | None = None,
    variant: StarkKeyVariant = DEFAULT_VARIANT,
    progress: Advance | None = None,
) -> list[DerivedAccount]:
    """``[derive_account(key, chain_id, variant) for key in keys]``, spread over forked workers for large
    batches; ``progress(n)`` is called as accounts finish."""
    pairs = derive_accounts_with(keys, chain_id, _nothing, workers, variant, progress)
    return [account for account, _attached in pairs]


def _nothing(index: int, account: DerivedAccount) -> bytes:
    return b""


Attach = Callable[[int, DerivedAccount], bytes]
"""Computes, from the index of a key in the batch and its derived account, public bytes to return with it
(derive's origin-signed public payload); it runs in the worker that derived the account."""


def derive_accounts_with(
    keys: Sequence[ColdKey],
    chain_id: int,
    attach: Attach,
    workers: int | None = None,
    variant: StarkKeyVariant = DEFAULT_VARIANT,
    progress: Advance | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[tuple[DerivedAccount, bytes]]:
    """Each key's account and ``attach(index, account)``, both computed in the worker that holds the key:
    what a batch does per account then runs on every core, not only the derivation.

    ``meanwhile`` runs on a thread of the parent while the accounts are derived (started once the workers
    are forked: a fork must not copy a running thread); derive gives it the vault's Argon2id, which
    releases the GIL and would otherwise run alone afterwards.
    """
    table = table_for(len(keys))

    def one(index: int) -> tuple[DerivedAccount, bytes]:
        account = derive_account(keys[index], chain_id, variant, table)
        return account, attach(index, account)

    with Beside(meanwhile) as helper:
        count = worker_count(workers, len(keys))
        if count > 1:
            chunks = run_in_workers(
                len(keys),
                lambda start, stop: b"".join(
                    _encode_account(account) + len(attached).to_bytes(4, "big") + attached
                    for account, attached in map(one, range(start, stop))
                ),
                count,
                progress,
                after_fork=helper.start,
            )
            pairs = _decode_accounts(keys, chain_id, variant, chunks)
            if pairs is not None:
                return pairs
        helper.start()
        out = []
        for index in range(len(keys)):
            out.append(one(index))
            if progress is not None:
                progress(1)
        return out


class Beside:
    """Runs ``work`` on a thread from :meth:`start` until the block ends, and re-raises its error there.

    ``with Beside(work) as helper: …; helper.start(); …`` — a second start does nothing, and without any
    the work runs when the block ends. The thread is always joined before the block is left, so nothing
    forks while it runs.
    """

    def __init__(self, work: Callable[[], object] | None) -> None:
        self._work = work
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.result: object = None

    def __enter__(self) -> Beside:
        return self

    def start(self) -> None:
        if self._work is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="beside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._work is not None
        try:
            self.result = self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for it
            self._error = exc

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        if self._work is None:
            return
        if self._thread is None:
            if kind is None:
                self._run()
        else:
            self._thread.join()
        if self._error is not None and kind is None:
            raise self._error


def _decode_accounts(
    keys: Sequence[ColdKey], chain_id: int, variant: StarkKeyVariant, chunks: list[bytes] | None
) -> list[tuple[DerivedAccount, bytes]] | None:
    """The workers' records (account record ‖ 4-byte length ‖ attached bytes, in order), or None if they
    are not exactly one well-formed record per key."""
    if chunks is None:
        return None
    data = b"".join(chunks)
    out = []
    offset = 0
    for key in keys:
        end = offset + _ACCOUNT_RECORD_BYTES + 4
        if end > len(data):
            return None
        size = int.from_bytes(data[end - 4 : end], "big")
        if end + size > len(data):
            return None
        account = _decode_account(key, chain_id, variant, data[offset : end - 4])
        if account is None:
            return None
        out.append((account, data[end : end + size]))
        offset = end + size
    return out if offset == len(data) else None


def stark_public_points_parallel(
    private_keys: Sequence[int], workers: int | None = None
) -> list[tuple[int, int]]:
    """The public point (x, y) of each STARK private key, spread over forked workers for large batches."""
    table = table_for(len(private_keys))

    def point(key: int) -> tuple[int, int]:
        return table.multiply(key) if table is not None else private_key_to_ec_point_on_stark_curve(key)

    count = worker_count(workers, len(private_keys))
    if count > 1:
        chunks = run_in_workers(
            len(private_keys),
            lambda start, stop: b"".join(_encode_point(point(key)) for key in private_keys[start:stop]),
            count,
        )
        records = _split_records(chunks, _POINT_RECORD_BYTES, len(private_keys))
        if records is not None:
            return [_decode_point(record) for record in records]
    return [point(key) for key in private_keys]


def _split_records(chunks: list[bytes] | None, size: int, expected: int) -> list[bytes] | None:
    if chunks is None:
        return None
    data = b"".join(chunks)
    if len(data) != size * expected:
        return None
    return [data[offset : offset + size] for offset in range(0, len(data), size)]


def pack_fields(*fields: bytes) -> bytes:
    """One record of variable-length fields for a worker's answer: each as a 4-byte length and its bytes."""
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


def unpack_records(chunks: list[bytes] | None, count: int, fields: int) -> list[list[bytes]] | None:
    """``count`` records of ``fields`` fields each from the workers' answers, or None if the bytes are not
    exactly that (the caller then runs serially)."""
    if chunks is None:
        return None
    data = b"".join(chunks)
    records = []
    offset = 0
    for _ in range(count):
        record = []
        for _field in range(fields):
            size = int.from_bytes(data[offset : offset + 4], "big")
            if offset + 4 > len(data) or offset + 4 + size > len(data):
                return None
            record.append(data[offset + 4 : offset + 4 + size])
            offset += 4 + size
        records.append(record)
    return records if offset == len(data) else None


def _encode_account(account: DerivedAccount) -> bytes:
    # The two derivation signatures cross the pipe because DerivedAccount carries them (recover and
    # `sign onboarding` need them); they travel only from a worker to its parent, inside one process tree.
    personal = account._personal_stark_key_signature
    return (
        account._stark_key_signature.reveal()
        + account._onboarding_signature.reveal()
        + (personal.reveal() if personal is not None else bytes(_SIGNATURE_BYTES))
        + _encode_point((account.stark.public_key, account.stark.public_key_y))
    )


def _decode_account(
    key: ColdKey, chain_id: int, variant: StarkKeyVariant, record: bytes
) -> DerivedAccount | None:
    """The DerivedAccount ``derive_account(key, chain_id, variant)`` returns, rebuilt from a worker's
    record; None (the batch then runs serially) if the public key it sent is not a point of the curve."""
    stark_signature = record[:_SIGNATURE_BYTES]
    onboarding_signature = record[_SIGNATURE_BYTES : 2 * _SIGNATURE_BYTES]
    personal = (
        Secret(record[2 * _SIGNATURE_BYTES : 3 * _SIGNATURE_BYTES])
        if variant.needs_personal_signature
        else None
    )
    x, y = _decode_point(record[3 * _SIGNATURE_BYTES :])
    if not is_point_on_curve(x, y):
        return None
    private = stark_private_key_for_variant(
        variant, stark_signature, personal.reveal() if personal is not None else None
    )
    return DerivedAccount(
        address=key.address,
        chain_id=chain_id,
        stark=StarkKeyPair(private_key=Secret(private), public_key=x, public_key_y=y),
        api=api_credentials_from_onboarding_signature(onboarding_signature),
        _stark_key_signature=Secret(stark_signature),
        _onboarding_signature=Secret(onboarding_signature),
        variant=variant,
        _personal_stark_key_signature=personal,
    )


def _encode_point(point: tuple[int, int]) -> bytes:
    return point[0].to_bytes(_COORDINATE_BYTES, "big") + point[1].to_bytes(_COORDINATE_BYTES, "big")


def _decode_point(record: bytes) -> tuple[int, int]:
    return (
        int.from_bytes(record[:_COORDINATE_BYTES], "big"),
        int.from_bytes(record[_COORDINATE_BYTES : 2 * _COORDINATE_BYTES], "big"),
    )


__all__ = [
    "MAX_WORKERS",
    "PARALLEL_MIN_ITEMS",
    "SLICE_ITEMS",
    "Beside",
    "available_cpus",
    "derive_accounts_parallel",
    "derive_accounts_with",
    "pack_fields",
    "run_in_workers",
    "split_range",
    "stark_public_points_parallel",
    "table_for",
    "unpack_records",
    "worker_count",
]
