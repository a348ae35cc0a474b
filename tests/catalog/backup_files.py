"""Small backup files in the real format, written without a database.

Retention and catalog tests need dozens of backups with chosen names; the
real document writer and compression make them in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pyrage

from taskagent_backup.fileformat.streams import CompressingSink
from taskagent_backup.fileformat.writer import DocumentWriter
from taskagent_backup.naming import backup_file_name

ROWS = b'["1","alice@example.com"]\n["2","bob@example.com"]\n'


def write_backup(
    directory: Path, kind: str, started_at: datetime, label: str | None = None,
    compression: str = "zstd",
) -> Path:
    """Write a complete one-table backup named for ``kind`` and ``started_at``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / backup_file_name(kind, started_at, compression, False, label)
    with path.open("wb") as stream:
        sink = CompressingSink(stream, compression, 3)
        writer = DocumentWriter(sink)
        writer.write_header({"created_at": started_at.isoformat(), "kind": kind, "label": label})
        writer.begin_table("public", "users", {"columns": [{"name": "id"}, {"name": "email"}]})
        writer.write_rows(ROWS)
        rows, digest = writer.end_table()
        writer.write_trailer({
            "manifest": {"public.users": {"rows": rows, "sha256": digest}},
            "tables": 1, "rows": rows, "complete": True,
        })
        sink.close()
    return path


def write_encrypted_backup(
    directory: Path, kind: str, started_at: datetime, identity_directory: Path
) -> tuple[Path, Path]:
    """Write a zstd backup encrypted with age to a new key; return it and the key file.

    The key file is written to ``identity_directory`` in the format of ``age-keygen``.
    """
    identity = pyrage.x25519.Identity.generate()
    plain = write_backup(directory, kind, started_at)
    path = directory / backup_file_name(kind, started_at, "zstd", True)
    path.write_bytes(pyrage.encrypt(plain.read_bytes(), [identity.to_public()]))
    plain.unlink()
    return path, write_identity(identity_directory, identity)


def write_identity(directory: Path, identity: pyrage.x25519.Identity | None = None) -> Path:
    """Write ``identity`` (a new one by default) as an age identity file; return its path."""
    identity = identity or pyrage.x25519.Identity.generate()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"key-{str(identity.to_public())[-8:]}.txt"
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    return path


def truncate(path: Path, keep_bytes: int = 60) -> None:
    """Cut ``path`` short, as a crash of a non-atomic writer would."""
    with path.open("r+b") as stream:
        stream.truncate(keep_bytes)


def touch_now(directory: Path) -> None:
    """Set the mtime of every file in ``directory`` to now, as a copy would."""
    for path in directory.iterdir():
        if path.is_file():
            os.utime(path)


def at(text: str) -> datetime:
    """Return the UTC time written as ``YYYY-MM-DD HH:MM``."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
