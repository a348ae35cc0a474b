"""Locks per backup directory, across processes.

The backup lock, an ``flock`` on ``.backup.lock`` in the backup directory,
allows one backup at a time.  The daemon lock on ``.daemon.lock`` is held
by a running ``taskagent-backupd`` for its whole life, so that a second
daemon on the same directory stops at once and ``status`` can tell whether
one runs.  The
kernel drops an ``flock`` when its process dies, so a killed runner never
leaves a lock behind.  The pid written into the file only serves the
message a second runner prints.  The file itself is never deleted, because
unlinking a lock file lets two processes lock two different inodes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from taskagent_backup.atomic import ensure_private_directory
from taskagent_backup.errors import BackupFailed, DaemonRunningError, LockHeldError
from taskagent_backup.i18n import _

LOCK_FILE_NAME = ".backup.lock"
DAEMON_LOCK_FILE_NAME = ".daemon.lock"
LOCK_FILE_MODE = 0o600


def lock_path(directory: Path) -> Path:
    """Return the path of the lock file for backups in ``directory``."""
    return directory / LOCK_FILE_NAME


@contextlib.contextmanager
def backup_lock(directory: Path) -> Iterator[Path]:
    """Hold the backup lock of ``directory`` for the duration of the block.

    Creates ``directory`` and the lock file when missing and yields the lock
    file's path.  Never waits: raises ``LockHeldError`` with the holder's pid
    when another process holds the lock, and ``BackupFailed`` when the lock
    file cannot be opened.
    """
    with _hold(lock_path(directory), LockHeldError) as path:
        yield path


@contextlib.contextmanager
def daemon_lock(directory: Path) -> Iterator[Path]:
    """Hold the daemon lock of ``directory``; raise ``DaemonRunningError`` if held."""
    with _hold(directory / DAEMON_LOCK_FILE_NAME, DaemonRunningError) as path:
        yield path


def lock_holder(path: Path) -> int | None:
    """Return the pid written in ``path`` while some process holds its flock, else None.

    Reads ``/proc/locks`` and never takes the lock, so asking cannot make a
    starting backup or daemon fail.
    """
    try:
        status = path.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    # /proc/locks names a file as MAJOR:MINOR:INODE, in hex, hex and decimal.
    lock_id = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    if not any(lock_id in line.split() for line in locks.splitlines()):
        return None
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else 0


@contextlib.contextmanager
def _hold(path: Path, error_class: type[LockHeldError]) -> Iterator[Path]:
    ensure_private_directory(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
    except OSError as error:
        raise BackupFailed(
            _("cannot open the lock file {path}: {reason}").format(path=path, reason=error.strerror)
        ) from error
    try:
        _lock_or_raise(fd, path, error_class)
        _write_pid(fd)
        yield path
    finally:
        # Closing the descriptor releases the flock.
        os.close(fd)


def _lock_or_raise(fd: int, path: Path, error_class: type[LockHeldError]) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise error_class(_read_pid(fd), str(path)) from None


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None
