"""Records of verifications and restore drills, kept beside the backups.

Each check appends one JSON line to ``<backup directory>/.taskagent-backup/checks.jsonl``.
The record names the backup file and its size, so a file replaced under the
same name is not taken as checked.  Deleting this file loses only the
record, never a backup; ``list`` and ``status`` then show the backups as
unchecked until they are verified again.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson

STATE_DIRECTORY_NAME = ".taskagent-backup"
CHECKS_FILE_NAME = "checks.jsonl"

CheckKind = Literal["verify", "drill"]


@dataclass(frozen=True)
class CheckRecord:
    """The outcome of one verification or restore drill of one backup file."""

    file: str
    size: int
    check: CheckKind
    ok: bool
    checked_at: str
    detail: str = ""


def checks_path(directory: Path) -> Path:
    """Return the path of the checks file for a backup directory."""
    return directory / STATE_DIRECTORY_NAME / CHECKS_FILE_NAME


def record_check(backup: Path, check: CheckKind, ok: bool, detail: str = "") -> CheckRecord:
    """Append the outcome of a check of ``backup`` and return the record."""
    record = CheckRecord(
        file=backup.name,
        size=backup.stat().st_size,
        check=check,
        ok=ok,
        checked_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        detail=detail,
    )
    path = checks_path(backup.parent)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, orjson.dumps(asdict(record)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def latest_checks(directory: Path) -> dict[tuple[str, CheckKind], CheckRecord]:
    """Return the newest record per (file name, check), skipping damaged lines."""
    latest: dict[tuple[str, CheckKind], CheckRecord] = {}
    path = checks_path(directory)
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_bytes().splitlines():
            try:
                record = CheckRecord(**orjson.loads(line))
            except (orjson.JSONDecodeError, TypeError):
                continue
            latest[(record.file, record.check)] = record
    return latest
