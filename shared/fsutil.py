"""Careful file I/O: atomic writes, secret-file permissions, and hardened reads of untrusted files.

Writes go to a temporary file in the target directory, are flushed and fsynced, then ``os.replace``d over the
target and the directory is fsynced: after a crash the path holds the complete old or the complete new
content, never a mix. Secret files are created 0600 with O_EXCL (never chmod-after), whatever the umask.
"""

from __future__ import annotations

import glob
import os
import stat
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


_swept: set[tuple[str, str]] = set()


def _remove_stale_temporaries(directory: Path, name: str) -> None:
    """Delete temporaries a killed writer left for this target (their pid is in the name and is gone).

    Once per target and process: a batch writing a thousand files must not rescan the directory each time.
    """
    key = (str(directory.resolve()), name)
    if key in _swept:
        return
    _swept.add(key)
    for leftover in directory.glob(f".{glob.escape(name)}.*.tmp"):
        parts = leftover.name[len(name) + 2 : -4].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except PermissionError:
            continue


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` from the first byte on."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {target}: directory {directory} does not exist")
    _remove_stale_temporaries(directory, target.name)
    tmp = directory / f".{target.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, mode)
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
    try:
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc
    _fsync_dir(directory)
    return target


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
