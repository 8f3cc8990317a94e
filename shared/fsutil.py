"""Careful file I/O: atomic writes, secret-file permissions, and hardened reads of untrusted files.

Writes go to a temporary file in the target directory, are flushed and fsynced, then ``os.replace``d over the
target and the directory is fsynced: after a crash the path holds the complete old or the complete new
content, never a mix. A batch (:func:`atomic_write_many`) does the same for many files with one fsync per
file and one per directory. Secret files are created 0600 with O_EXCL (never chmod-after), whatever the umask.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dydx_airgap.shared.errors import InputError

#: Largest file we read from a USB stick or the relay (payloads are far smaller).
DEFAULT_READ_CAP = 1 << 20


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Directories already swept for stale temporaries by this process (see _remove_stale_temporaries).
_swept: set[str] = set()
#: ``.<target>.<pid>.<random hex>.tmp``: the temporaries this module names (see _temporary_path).
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]+\.tmp")
#: Batches at least this large write and fsync on threads (see atomic_write_many).
_THREADED_MIN_FILES = 32
_WRITE_THREADS = 16


def _remove_stale_temporaries(directory: Path) -> None:
    """Delete temporaries that killed writers left in ``directory`` (their pid is in the name and is gone).

    Once per directory and process, with one scan of the directory for every target in it: a batch writing
    thousands of files into one directory must not rescan it once per file (that made a batch quadratic).
    """
    key = str(directory.resolve())
    if key in _swept:
        return
    _swept.add(key)
    own = os.getpid()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return  # unreadable: writing into it will report the real problem
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        if found is None:
            continue
        pid = int(found["pid"])
        if pid == own:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            Path(entry.path).unlink(missing_ok=True)
        except (PermissionError, OverflowError):
            continue


def _target_directory(target: Path) -> Path:
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {target}: directory {directory} does not exist")
    return directory


def _temporary_path(target: Path, directory: Path) -> Path:
    return directory / f".{target.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp"


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_temporary(target: Path, tmp: Path, data: bytes, mode: int, fsync: bool = True) -> None:
    """``data`` into the new file ``tmp``, permission bits ``mode`` from creation, fsynced before return
    (unless ``fsync`` is False: a batch then makes the whole filesystem durable at once, see _syncfs)."""
    try:
        fd = os.open(tmp, _CREATE, mode)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        # The umask may have removed bits we want (it can never add any): then set them. Only then, since
        # a chmod is one more journal transaction per file, and batches write thousands.
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)


def _install(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` from the first byte on."""
    target = Path(path)
    directory = _target_directory(target)
    _remove_stale_temporaries(directory)
    tmp = _temporary_path(target, directory)
    _write_temporary(target, tmp, data, mode)
    _install(tmp, target)
    _fsync_dir(directory)
    return target


def _syncfs_available() -> bool:
    """Linux 5.8 or later: syncfs(2) exists and reports writeback errors (before 5.8 it returned 0 even when
    writing back had failed, so a batch could not know its files were on disk)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8)


def _syncfs(directory: Path) -> bool:
    """Make every file written to ``directory``'s filesystem durable with one syncfs(2); False when it is
    not available or fails (the caller then fsyncs file by file)."""
    if not _syncfs_available():
        return False
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    syncfs = getattr(ctypes.CDLL(name, use_errno=True), "syncfs", None)
    if syncfs is None:
        return False
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_many(files: Sequence[tuple[Path, bytes]], mode: int = 0o644) -> list[Path]:
    """Write many files atomically, each as :func:`atomic_write_bytes` would, at a batch's cost.

    Every file goes to its own temporary (``mode`` from creation), every temporary is made durable, then
    every one is renamed over its target, then each directory is fsynced once; one stale-temporary sweep
    per directory. A crash at any point leaves each target whole, old or new; the temporaries it leaves
    are swept by the next writer. If any temporary cannot be written, none is renamed and all are removed,
    so no target changes. See :class:`StagedWrites` to do other work while the temporaries are written.
    """
    with StagedWrites(files, mode) as staged:
        return staged.install()


class StagedWrites:
    """The two halves of :func:`atomic_write_many`, so that work can run between them::

        with StagedWrites(files, 0o644) as staged:  # temporaries written, on threads
            write_vault(...)                        # meanwhile (Argon2id releases the GIL)
            staged.install()                        # waits, makes them durable, renames all, fsyncs dirs

    Durability before any rename: a large batch on Linux 5.8+ makes its temporaries durable with one
    syncfs(2) per directory — one journal commit and one disk flush for ten thousand files, where an fsync
    per file costs a commit and a flush each (about 0.3 ms apiece here); elsewhere, or if syncfs fails,
    each temporary is fsynced. Either way every byte of every temporary is on disk before the first
    rename, so a crash shows each target whole, old or new.

    Nothing is renamed before :meth:`install`: leaving the block without it (an exception, Ctrl-C) waits
    for the writes and removes every temporary, so no target changes. Large batches write on a few
    threads, all joined before the block ends (batch.py forks only while a single thread runs).
    """

    def __init__(self, files: Sequence[tuple[Path, bytes]], mode: int = 0o644) -> None:
        targets = [Path(path) for path, _data in files]
        if len({str(t) for t in targets}) != len(targets):
            raise InputError("a batch of files names one file twice")
        self._directories: dict[str, Path] = {}
        for target in targets:
            if str(target.parent) not in self._directories:
                self._directories[str(target.parent)] = _target_directory(target)
        for directory in self._directories.values():
            _remove_stale_temporaries(directory)
        self._targets = targets
        self._temporaries = [_temporary_path(target, target.parent) for target in targets]
        self._jobs = list(zip(targets, self._temporaries, (data for _path, data in files), strict=True))
        self._mode = mode
        # Small batches fsync each file as they are written; large ones leave that to one syncfs.
        self._fsync_each = len(targets) < _THREADED_MIN_FILES or not _syncfs_available()
        self._pool: Any = None
        self._pending: list[Any] = []
        self._installed = False

    def __enter__(self) -> StagedWrites:
        if len(self._jobs) >= _THREADED_MIN_FILES:
            from concurrent.futures import ThreadPoolExecutor

            # One thread writes them all beside the caller's own work (Argon2id releases the GIL): without
            # fsync each write is a short system call, which one thread does fastest. Only when each file
            # is fsynced does it fan out (_write_all): fsync waits for the disk, and the kernel commits
            # concurrent fsyncs together.
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="atomic-write")
            self._pending = [self._pool.submit(self._write_all)]
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        try:
            self._wait()
        finally:
            if not self._installed:
                for tmp in self._temporaries:
                    tmp.unlink(missing_ok=True)

    def _write(self, job: tuple[Path, Path, bytes]) -> None:
        _write_temporary(job[0], job[1], job[2], self._mode, fsync=self._fsync_each)

    def _write_all(self) -> None:
        if self._fsync_each and len(self._jobs) >= _THREADED_MIN_FILES:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(_WRITE_THREADS, thread_name_prefix="atomic-fsync") as pool:
                for _done in pool.map(self._write, self._jobs):
                    pass
        else:
            for job in self._jobs:
                self._write(job)

    def _wait(self) -> None:
        """Every temporary written (or the first error raised), and the threads joined."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        try:
            for future in self._pending:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def install(self) -> list[Path]:
        if self._installed:
            raise InputError("these files are installed already")
        if self._pending:
            self._wait()
        else:
            self._write_all()
        if not self._fsync_each:
            for directory in self._directories.values():
                if not _syncfs(directory):
                    for _target, tmp, _data in self._jobs:
                        if tmp.parent == directory:
                            _fsync_file(tmp)
        installed = 0
        try:
            for target, tmp, _data in self._jobs:
                _install(tmp, target)
                installed += 1
        finally:
            for tmp in self._temporaries[installed:]:
                tmp.unlink(missing_ok=True)  # after a failed rename, the ones not installed
            self._installed = True
            for directory in self._directories.values():
                _fsync_dir(directory)
        return self._targets


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def write_secret_file(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write a secret: 0600 from creation."""
    return atomic_write_bytes(path, data, 0o600)


def make_dirs(path: str | os.PathLike[str], mode: int) -> Path:
    """Create ``path`` and any missing parents with ``mode`` exactly (whatever the umask); directories that
    already exist are left as they are — we never change the mode of a directory we did not create."""
    directory = Path(path)
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for component in reversed(missing):
        try:
            os.mkdir(component, mode)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to chmod
        except OSError as exc:
            raise InputError(f"cannot create directory {component}: {exc.strerror}") from exc
        os.chmod(component, mode)  # the umask may have removed bits; it must not have added any
    if not directory.is_dir() or directory.is_symlink():
        raise InputError(f"{directory} is not a directory")
    return directory


def make_secret_dir(path: str | os.PathLike[str]) -> Path:
    """Create (or check) a directory that will hold secrets: 0700, owned by us.

    Missing components (parents included) are created 0700 whatever the umask. An existing directory is
    never chmod-ed — it may be shared (a sticky /tmp-like directory, a project folder): one that others
    can enter, or that someone else owns, is refused with the fix in the message.
    """
    directory = Path(path)
    if directory.is_symlink():
        raise InputError(f"{directory} is a symbolic link: give the real directory for secrets")
    make_dirs(directory, 0o700)
    st = directory.lstat()
    if st.st_uid != os.geteuid():
        raise InputError(f"{directory} belongs to another user: choose a directory of your own for secrets")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise InputError(
            f"{directory} is open to others (mode {stat.S_IMODE(st.st_mode):04o}) and would hold secrets: "
            f"run 'chmod 700 {directory}' if it is yours alone, or name a new directory"
        )
    return directory


def require_regular_file(path: Path, what: str) -> None:
    """For a file a library will open itself (a video): not a link, a FIFO or a device."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise InputError(f"{what} {path} is a symbolic link: refusing to follow it; pass the real file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {path} is not a regular file")


def read_untrusted_file(path: str | os.PathLike[str], cap: int = DEFAULT_READ_CAP) -> bytes:
    """Read a regular file once into memory: no symlinks, no devices or FIFOs, no more than ``cap`` bytes.

    The caller hashes and parses these bytes only, so what was checked is what gets used (no TOCTOU).
    """
    p = Path(path)
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NONBLOCK", 0)
    )
    try:
        fd = os.open(p, flags)
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{p} is a directory, not a file") from exc
    except OSError as exc:
        if p.is_symlink():
            raise InputError(f"{p} is a symbolic link: refusing to follow it; pass the real file") from exc
        raise InputError(f"cannot read {p}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{p} is not a regular file")
        if st.st_size > cap:
            raise InputError(f"{p} is {st.st_size} bytes, more than the {cap}-byte limit")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise InputError(f"{p} is larger than the {cap}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_secret_file(path: str | os.PathLike[str], cap: int = DEFAULT_READ_CAP) -> bytes:
    """Read a file holding a secret; refuse it, like ssh does, if group or others may read it."""
    p = Path(path)
    try:
        st = p.lstat()
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such file") from exc
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror}") from exc
    if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
        raise InputError(
            f"{p} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): run 'chmod 600 {p}' first"
        )
    return read_untrusted_file(p, cap)
