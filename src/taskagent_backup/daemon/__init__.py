"""The ``taskagent-backupd`` service: scheduler, systemd notifications, reload and stop.

Modules: ``service`` (lifecycle and runs), ``schedule`` (cron triggers that
fire once per wall-clock time across DST), ``missed`` (catch-up of runs the
daemon was not running for), ``notify`` (sd_notify), ``watchdog`` and
``status`` (the ``STATUS=`` line).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import structlog

from taskagent_backup.errors import BackupToolError, DaemonRunningError
from taskagent_backup.lock import daemon_lock
from taskagent_backup.logging_setup import is_journal_stream
from taskagent_backup.settings import Settings

log = structlog.get_logger(__name__)


def run_daemon(settings: Settings, config_path: Path | None) -> int:
    """Run the daemon until SIGTERM or SIGINT and return the process exit code.

    Returns 0 after a clean stop and 1 after a crash, which is logged with
    its traceback so that ``Restart=on-failure`` restarts the service.
    Holds the daemon lock of the backup directory while it runs; returns
    75 when another daemon holds it.
    """
    from taskagent_backup.daemon.service import BackupDaemon

    async def serve() -> int:
        return await BackupDaemon(settings, config_path).serve()

    # NOTE: the lock stays on the directory the daemon started with, even
    # when a reload changes backup.directory.
    try:
        with daemon_lock(settings.backup.directory):
            return asyncio.run(serve())
    except DaemonRunningError as error:
        log.error("daemon_already_running", pid=error.pid, lock_file=error.lock_path)
        if not is_journal_stream(sys.stdout):
            print(f"taskagent-backupd: {error}", file=sys.stderr)
        return error.exit_code
    except BackupToolError as error:
        log.error("daemon_start_failed", error=str(error))
        return error.exit_code
    except Exception:
        log.exception("daemon_crashed")
        return 1
