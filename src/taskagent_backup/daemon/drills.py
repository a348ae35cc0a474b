"""Restore drills after scheduled backups, as ``schedule.drill`` requests.

``every`` drills each scheduled backup; ``newest-daily`` drills the daily
backup only, so the newest backup is proven restorable once a day.  A
drill never turns a finished backup into a failed run: its failure is
logged as an error and recorded for ``list`` and ``status``.
"""

from __future__ import annotations

import structlog

from taskagent_backup.backup import BackupResult
from taskagent_backup.drill import drill_backup
from taskagent_backup.errors import BackupToolError
from taskagent_backup.settings import Settings

log = structlog.get_logger(__name__)


def wants_drill(policy: str, kind: str) -> bool:
    """Tell whether a scheduled backup of ``kind`` is drilled under ``policy``."""
    return policy == "every" or (policy == "newest-daily" and kind == "daily")


async def drill_after_backup(settings: Settings, kind: str, result: BackupResult) -> None:
    """Drill ``result`` when the policy requests it, then log the outcome; never raises."""
    if not wants_drill(settings.schedule.drill, kind):
        return
    if settings.backup.encrypt_to:
        # NOTE: the daemon has no age identity, so encrypted backups are not drilled.
        log.warning("drill_skipped", file=str(result.path), reason="the backup is encrypted")
        return
    try:
        drill = await drill_backup(settings, result.path)
    except BackupToolError as error:
        log.error("drill_failed", file=str(result.path), error=str(error))
        return
    except Exception:
        # The backup itself succeeded, so a bug in the drill must not end the run.
        log.exception("drill_crashed", file=str(result.path))
        return
    if not drill.ok:
        log.error("drill_mismatch", file=str(result.path), detail=drill.detail)
