"""Free-space check before a backup run.

The size of the next backup is estimated from the newest existing backup
of the same kind (by the time in its name), or, when there is none, as the
database size from ``pg_database_size`` divided by
``DATABASE_SIZE_TO_BACKUP_RATIO``.  That ratio is a rough estimate of
compressed JSON against PostgreSQL's on-disk size (tables, indexes, free
space), not a measurement; the reserve absorbs the error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from taskagent_backup.db import connect, query_error
from taskagent_backup.errors import DiskSpaceError
from taskagent_backup.i18n import _
from taskagent_backup.naming import parse_backup_file_name
from taskagent_backup.settings import Settings

log = structlog.get_logger(__name__)

BYTES_PER_MIB = 1024 * 1024
DATABASE_SIZE_TO_BACKUP_RATIO = 10


@dataclass(frozen=True)
class SpaceEstimate:
    """Free bytes in the backup directory and the estimated size of the next backup."""

    free_bytes: int
    estimated_bytes: int
    source: str

    def free_after_bytes(self) -> int:
        """Return the free space expected once the backup is written."""
        return self.free_bytes - self.estimated_bytes


def free_bytes(directory: Path) -> int:
    """Return the bytes available to unprivileged users on ``directory``'s file system."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def newest_backup_size(directory: Path, kind: str) -> tuple[str, int] | None:
    """Return the name and size of the newest backup file of ``kind``, if any."""
    newest: tuple[str, int] | None = None
    newest_name = None
    for path in directory.iterdir():
        name = parse_backup_file_name(path.name)
        if name is None or name.kind != kind:
            continue
        if newest_name is None or (name.started_at, path.name) > newest_name:
            try:
                newest = (path.name, path.stat().st_size)
            except FileNotFoundError:
                continue
            newest_name = (name.started_at, path.name)

    return newest


async def estimate_space(settings: Settings, kind: str) -> SpaceEstimate:
    """Return the free space and the estimated size of the next backup of ``kind``.

    Connects to the database only when no backup of ``kind`` exists yet.
    Raises ``DatabaseError`` when that query fails.
    """
    directory = settings.backup.directory
    previous = newest_backup_size(directory, kind)
    if previous is not None:
        name, size = previous
        return SpaceEstimate(free_bytes(directory), size, f"size of {name}")
    database_size = await _database_size(settings)
    estimate = database_size // DATABASE_SIZE_TO_BACKUP_RATIO
    source = f"database size {database_size // BYTES_PER_MIB} MiB / {DATABASE_SIZE_TO_BACKUP_RATIO}"

    return SpaceEstimate(free_bytes(directory), estimate, source)


async def _database_size(settings: Settings) -> int:
    database = settings.database
    async with connect(database.target(), pgbouncer=database.pgbouncer_transaction_mode) as db:
        try:
            return int(await db.fetchval("SELECT pg_database_size(current_database())"))
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise query_error(_("reading the database size"), error) from error


async def ensure_free_space(settings: Settings, kind: str) -> SpaceEstimate:
    """Raise ``DiskSpaceError`` unless the next backup leaves the reserve free.

    The reserve is ``backup.free_space_reserve_mb``; returns the estimate
    when there is room.
    """
    estimate = await estimate_space(settings, kind)
    reserve = settings.backup.free_space_reserve_mb * BYTES_PER_MIB
    log.info(
        "disk_space_checked", free_mib=estimate.free_bytes // BYTES_PER_MIB,
        estimated_mib=round(estimate.estimated_bytes / BYTES_PER_MIB, 1),
        estimate_source=estimate.source, reserve_mib=settings.backup.free_space_reserve_mb,
    )
    if estimate.free_after_bytes() < reserve:
        raise DiskSpaceError(
            _(
                "not enough free space in {directory}: "
                "{free_mib:.1f} MiB free, the backup needs about "
                "{needed_mib:.1f} MiB (estimated from "
                "{source}) and backup.free_space_reserve_mb = "
                "{reserve_mib} must stay free; delete old backups "
                "with 'taskagent-backup prune', add space or lower the reserve"
            ).format(
                directory=settings.backup.directory,
                free_mib=estimate.free_bytes / BYTES_PER_MIB,
                needed_mib=estimate.estimated_bytes / BYTES_PER_MIB,
                source=estimate.source,
                reserve_mib=settings.backup.free_space_reserve_mb,
            )
        )

    return estimate
