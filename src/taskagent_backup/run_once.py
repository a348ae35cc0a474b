"""One backup run with its summary event: used by --run-now and by the scheduler."""

from __future__ import annotations

import asyncio
import uuid

import structlog

from taskagent_backup.backup import BackupResult, run_backup
from taskagent_backup.catalog import remember_backup
from taskagent_backup.lock import backup_lock
from taskagent_backup.retention import apply_retention
from taskagent_backup.settings import Settings

log = structlog.get_logger(__name__)


async def run_once(settings: Settings, kind: str, label: str | None = None) -> BackupResult:
    """Take one backup of ``kind`` and log one summary event.

    Holds the backup lock of the backup directory during the run, so a
    second runner raises ``LockHeldError`` (exit 75) instead of waiting.
    After a successful backup, applies the retention policy to the backup
    directory, sparing the new file.  Raises what ``run_backup`` raises.
    """
    run_id = uuid.uuid4().hex[:12]
    with (
        structlog.contextvars.bound_contextvars(run_id=run_id, kind=kind),
        backup_lock(settings.backup.directory),
    ):
        log.info("backup_started", label=label)
        result = await run_backup(settings, kind, label)
        log.info(
            "backup_finished",
            file=str(result.path),
            tables=len(result.tables),
            rows=result.rows,
            bytes=result.bytes,
            seconds=round(result.seconds, 3),
        )
        await _apply_retention(settings, result)
    return result


async def _apply_retention(settings: Settings, result: BackupResult) -> None:
    """Apply retention after a successful backup, never deleting the file it wrote.

    The catalog may read whole files, so it runs off the event loop.  A
    failure is logged and does not turn the finished backup into a failure.
    """
    try:
        await asyncio.to_thread(
            remember_backup, result.path, result.started_at, len(result.tables),
            result.rows, result.sha256,
        )
        await asyncio.to_thread(
            apply_retention, settings.backup.directory, settings.retention, [result.path.name]
        )
    except OSError as error:
        log.error("retention_failed", directory=str(settings.backup.directory),
                  error=str(error), exc_info=True)
