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
from collections.abc import Sequence
from pathlib import Path

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


def _write_temporary(target: Path, tmp: Path, data: bytes, mode: int) -> None:
    """``data`` into the new file ``tmp``, permission bits ``mode`` from creation, fsynced before return."""
    try:
        fd = os.open(tmp, _CREATE, mode)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want; it can never add any
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
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


def atomic_write_many(files: Sequence[tuple[Path, bytes]], mode: int = 0o644) -> list[Path]:
    """Write many files atomically, each as :func:`atomic_write_bytes` would, at a batch's cost.

    Every file goes to its own temporary (``mode`` from creation, written, fsynced), then every temporary
    is renamed over its target, then each directory is fsynced once: N + 1 fsyncs instead of 2N, and one
    stale-temporary sweep per directory. A crash at any point leaves each target whole, old or new; the
    temporaries it leaves are swept by the next writer. If any temporary cannot be written, none is
    renamed and all are removed, so no target changes. Large batches write on a few threads: fsync mostly
    waits for the disk, and the kernel commits concurrent fsyncs together.
    """
    targets = [Path(path) for path, _data in files]
    if len({str(t) for t in targets}) != len(targets):
        raise InputError("a batch of files names one file twice")
    directories: dict[str, Path] = {}
    for target in targets:
        directory = _target_directory(target)
        directories.setdefault(str(directory), directory)
    for directory in directories.values():
        _remove_stale_temporaries(directory)
    temporaries = [_temporary_path(target, target.parent) for target in targets]
    jobs = list(zip(targets, temporaries, (data for _path, data in files), strict=True))
    try:
        if len(jobs) >= _THREADED_MIN_FILES:
            from concurrent.futures import ThreadPoolExecutor

            # The pool is shut down (its threads joined) before this returns, so a later fork (batch.py
            # forks only in a single-threaded process) is unaffected.
            with ThreadPoolExecutor(_WRITE_THREADS, thread_name_prefix="atomic-write") as pool:
                for _done in pool.map(lambda job: _write_temporary(job[0], job[1], job[2], mode), jobs):
                    pass
        else:
            for target, tmp, data in jobs:
                _write_temporary(target, tmp, data, mode)
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        raise
    installed = 0
    try:
        for target, tmp, _data in jobs:
            _install(tmp, target)
            installed += 1
    finally:
        for tmp in temporaries[installed:]:
            tmp.unlink(missing_ok=True)  # after a failed rename, the ones not installed
        for directory in directories.values():
            _fsync_dir(directory)
    return targets


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
