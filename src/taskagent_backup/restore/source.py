"""Open a backup for restoring: the current format or an old TaskAgent file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from taskagent_backup.fileformat import layout
from taskagent_backup.fileformat.reader import TableSection, open_decompressed, read_backup
from taskagent_backup.restore.legacy import looks_like_legacy, read_legacy

SNIFF_BYTES = 256


class BackupSource(Protocol):
    """The interface the restore reads, provided by ``BackupReader`` and ``LegacyBackup``."""

    path: Path
    header: dict[str, Any]
    trailer: dict[str, Any]

    def tables(self) -> Iterator[TableSection]: ...

    def rows(self, section: TableSection) -> Iterator[bytes]: ...


def open_source(path: Path, identity_paths: list[Path] | None = None) -> BackupSource:
    """Open ``path`` and return a source positioned at its first table.

    Raises ``BackupFileError`` when the file is neither format or is damaged.
    """
    stream = open_decompressed(path, identity_paths)
    try:
        first = stream.read(SNIFF_BYTES)
        if not first.startswith(layout.DOCUMENT_PREFIX[:SNIFF_BYTES]) and looks_like_legacy(first):
            return read_legacy(path, first + stream.read())
    finally:
        stream.close()
    return read_backup(path, identity_paths)
