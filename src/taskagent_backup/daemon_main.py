"""Entry point of ``taskagent-backupd``: the daemon, or one backup with ``--run-now``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import structlog

from taskagent_backup.errors import BackupToolError
from taskagent_backup.i18n import _, translate_argparse
from taskagent_backup.logging_setup import configure_logging, is_journal_stream
from taskagent_backup.naming import KINDS, label_argument
from taskagent_backup.settings import load_settings
from taskagent_backup.summary import print_backup_summary

log = structlog.get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``taskagent-backupd``."""
    translate_argparse()
    parser = argparse.ArgumentParser(
        prog="taskagent-backupd",
        description=_("Back up the TaskAgent database on a schedule (systemd service)."),
    )
    parser.add_argument(
        "--config", type=Path, default=None,
        help=_("path of the TOML configuration (default: /etc/taskagent-backup/config.toml)"),
    )
    parser.add_argument(
        "--run-now", action="store_true", help=_("take one backup now and exit")
    )
    parser.add_argument(
        "--kind", choices=KINDS, default="manual",
        help=_("kind of backup taken by --run-now (default: manual)"),
    )
    parser.add_argument(
        "--label", default=None, type=label_argument, help=_("label for a pre-migration backup")
    )
    return parser


def _report_startup_error(error: BackupToolError) -> None:
    """Print ``error`` for a person, or log it as JSON when stdout is the journal.

    Under systemd a plain-text line would be the only journal line that is
    not JSON, and it would carry no error priority.
    """
    if is_journal_stream(sys.stdout):
        configure_logging("info")
        log.error("startup_failed", error=str(error), exit_code=error.exit_code)
        return
    print(f"taskagent-backupd: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the daemon or one backup; return the process exit code."""
    os.umask(0o077)
    arguments = build_parser().parse_args(argv)
    try:
        settings = load_settings(arguments.config, check_password=True)
    except BackupToolError as error:
        _report_startup_error(error)
        return error.exit_code
    configure_logging(settings.logging.level)

    if arguments.run_now:
        from taskagent_backup.run_once import run_once

        try:
            result = asyncio.run(run_once(settings, arguments.kind, arguments.label))
        except BackupToolError as error:
            log.error("backup_failed", kind=arguments.kind, error=str(error))
            print(f"taskagent-backupd: {error}", file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            return 130
        print_backup_summary(result)
        return 0

    from taskagent_backup.daemon import run_daemon

    return run_daemon(settings, arguments.config)


if __name__ == "__main__":
    sys.exit(main())
