"""The ``taskagent-backupd`` service: scheduler, systemd notifications, reload and stop.

Modules: ``service`` (lifecycle and runs), ``schedule`` (cron triggers that
fire once per wall-clock time across DST), ``missed`` (catch-up of runs the
daemon was not running for), ``notify`` (sd_notify), ``watchdog`` and
``status`` (the ``STATUS=`` line).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from taskagent_backup.settings import Settings

log = structlog.get_logger(__name__)


def run_daemon(settings: Settings, config_path: Path | None) -> int:
    """Run the daemon until SIGTERM or SIGINT and return the process exit code.

    Returns 0 after a clean stop and 1 after a crash, which is logged with
    its traceback so that ``Restart=on-failure`` restarts the service.
    """
    from taskagent_backup.daemon.service import BackupDaemon

    async def serve() -> int:
        return await BackupDaemon(settings, config_path).serve()

    try:
        return asyncio.run(serve())
    except Exception:
        log.exception("daemon_crashed")
        return 1
