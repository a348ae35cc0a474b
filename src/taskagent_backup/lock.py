"""The backup lock: one backup at a time per backup directory, across processes.

The lock is an ``flock`` on ``.backup.lock`` in the backup directory.  The
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
from taskagent_backup.errors import BackupFailed, LockHeldError

LOCK_FILE_NAME = ".backup.lock"
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
    ensure_private_directory(directory)
    path = lock_path(directory)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
    except OSError as error:
        raise BackupFailed(f"cannot open the lock file {path}: {error.strerror}") from error
    try:
        _lock_or_raise(fd, path)
        _write_pid(fd)
        yield path
    finally:
        # Closing the descriptor releases the flock.
        os.close(fd)


def _lock_or_raise(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LockHeldError(_read_pid(fd), str(path)) from None


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None
