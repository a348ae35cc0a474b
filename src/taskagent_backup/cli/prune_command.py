"""``taskagent-backup prune``: apply the retention policy now, or show what it would delete."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from taskagent_backup.i18n import _
from taskagent_backup.lock import backup_lock
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.retention import RetentionResult, apply_retention
from taskagent_backup.settings import load_settings

EXIT_DELETE_FAILED = 1


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``prune`` subcommand."""
    parser = subparsers.add_parser(
        "prune", parents=[common], help=_("delete backups the retention policy no longer keeps"),
        description=_(
            "Apply the retention settings to the backup directory, as the daemon does "
            "after each successful backup.  Damaged files and files the daemon did not "
            "write are never deleted."
        ),
    )
    parser.add_argument(
        "--dry-run", action="store_true",
        help=_("only print what would be deleted; delete nothing"),
    )
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Prune (holding the backup lock unless ``--dry-run``) and print the outcome.

    Returns 0, or ``EXIT_DELETE_FAILED`` when a file could not be deleted.
    Raises ``LockHeldError`` while a backup is running.
    """
    settings = load_settings(arguments.config)
    configure_logging(settings.logging.level, sys.stderr)
    directory = settings.backup.directory
    if arguments.dry_run:
        result = apply_retention(directory, settings.retention, dry_run=True)
    else:
        with backup_lock(directory):
            result = apply_retention(directory, settings.retention)
    print_result(result)

    return EXIT_DELETE_FAILED if result.failed else 0


def print_result(result: RetentionResult) -> None:
    """Print one line per deleted, undeletable and ignored file, then a total."""
    verb = _("would delete") if result.dry_run else _("deleted")
    for deletion in result.deletions:
        print(_("{verb} {file} ({reason})").format(
            verb=verb, file=deletion.entry.name, reason=deletion.reason))
    for deletion, error in result.failed:
        print(_("could not delete {file}: {error}").format(file=deletion.entry.name, error=error))
    for entry in result.ignored:
        print(_("left alone: {file} ({state}: {detail})").format(
            file=entry.name, state=entry.state, detail=entry.detail or entry.state))
    if result.dry_run:
        total = _("{deleted} would be deleted, {kept} good backups kept")
    else:
        total = _("{deleted} deleted, {kept} good backups kept")
    print(total.format(deleted=len(result.deletions), kept=len(result.kept)))
