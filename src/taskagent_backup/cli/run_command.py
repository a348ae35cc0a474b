"""``taskagent-backup run``: take one backup now (e.g. before a migration)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import structlog

from taskagent_backup.errors import BackupToolError
from taskagent_backup.i18n import _
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.naming import KINDS, label_argument
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import load_settings
from taskagent_backup.summary import print_backup_summary

log = structlog.get_logger(__name__)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", parents=[common], help=_("take one backup now"),
        description=_("Take one backup now and print where it was written."),
    )
    parser.add_argument(
        "--kind", choices=KINDS, default="manual", help=_("kind of backup (default: manual)")
    )
    parser.add_argument(
        "--label", default=None, type=label_argument,
        help=_("short name stored with the backup, e.g. the migration's name"),
    )
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Take the backup; errors are logged, then propagate as ``BackupToolError``."""
    settings = load_settings(arguments.config)
    configure_logging(settings.logging.level, sys.stderr)
    try:
        result = asyncio.run(run_once(settings, arguments.kind, arguments.label))
    except BackupToolError as error:
        log.error("backup_failed", kind=arguments.kind, error=str(error),
                  exit_code=error.exit_code)
        raise
    print_backup_summary(result)
    return 0
