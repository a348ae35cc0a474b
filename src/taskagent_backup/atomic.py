"""Files that appear under their final name only when complete.

A backup is written to a hidden temporary name in the same directory, synced
to disk, linked to its final name and the directory synced, so a crash at
any moment leaves either a complete backup or no file under a backup name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def ensure_private_directory(path: Path) -> None:
    """Create ``path`` (mode 0700) and its parents when missing."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)


def partial_name(final_name: str) -> str:
    """Return the temporary name used while ``final_name`` is being written."""
    return f".{final_name}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"


def owner_pid(partial: Path) -> int | None:
    """Return the pid recorded in a temporary file's name, if any."""
    parts = partial.name.removesuffix(PARTIAL_SUFFIX).split(".")
    if len(parts) >= 3 and parts[-2].isdigit():
        return int(parts[-2])
    return None


def remove_stale_partials(directory: Path) -> list[Path]:
    """Delete temporary files left by processes that no longer run.

    Returns the removed paths.  Files of a live process are kept.
    """
    removed = []
    for candidate in directory.glob(f".*{PARTIAL_SUFFIX}"):
        pid = owner_pid(candidate)
        if pid is not None and pid != os.getpid() and _process_exists(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AtomicFile:
    """A write-only file that becomes visible under ``final_path`` on ``commit``.

    The file is created with mode 0600 by ``open`` itself, never widened by a
    later chmod.  ``abort`` removes the temporary file; it is safe to call
    after a failed ``commit`` and more than once.
    """

    def __init__(self, final_path: Path) -> None:
        self.final_path = final_path
        self.temporary_path = final_path.with_name(partial_name(final_path.name))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self._fd: int | None = os.open(self.temporary_path, flags, FILE_MODE)
        self.bytes_written = 0
        self._digest = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; raise ``OSError`` (e.g. ENOSPC) when the disk is full."""
        assert self._fd is not None, "write after commit or abort"
        view = memoryview(data)
        self._digest.update(view)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.bytes_written += written

    @property
    def sha256(self) -> str:
        """Return the SHA-256 of the bytes written so far, as ``sha256sum`` prints it."""
        return self._digest.hexdigest()

    def commit(self) -> Path:
        """Sync the data, publish it under ``final_path`` and sync the directory.

        Raises ``FileExistsError`` rather than overwrite an existing backup.
        """
        assert self._fd is not None, "commit after commit or abort"
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        os.link(self.temporary_path, self.final_path)
        os.unlink(self.temporary_path)
        fsync_directory(self.final_path.parent)
        return self.final_path

    def abort(self) -> None:
        """Close and delete the temporary file, if it still exists."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self.temporary_path.unlink()


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries so a rename or unlink survives a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
