"""``taskagent-backup verify``: check backup files, optionally by restoring them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from taskagent_backup.cli.pipes import quiet_on_broken_pipe
from taskagent_backup.drill import drill_backup
from taskagent_backup.errors import (
    EX_DATAERR,
    AgeIdentityError,
    BackupFileError,
    BackupNotFoundError,
    BackupToolError,
)
from taskagent_backup.i18n import _
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.progress import Progress
from taskagent_backup.settings import load_settings
from taskagent_backup.verify import verify_and_record


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``verify`` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        parents=[common],
        help=_("check backup files"),
        description=_(
            "Check each backup's format, row counts, SHA-256 checksums and manifest "
            "without a database; with --restore-test also restore it into a scratch "
            "database and compare every table's fingerprint."
        ),
    )
    parser.add_argument(
        "backups", type=Path, nargs="+", metavar="BACKUP", help=_("backup files to check")
    )
    parser.add_argument(
        "--restore-test",
        action="store_true",
        help=_(
            "also restore into a scratch database on the configured server "
            "(the role needs CREATEDB)"
        ),
    )
    parser.add_argument(
        "--identity",
        type=Path,
        action="append",
        default=[],
        help=_("age identity file to decrypt encrypted backups; may be repeated"),
    )
    parser.set_defaults(handler=handle)


@quiet_on_broken_pipe
def handle(arguments: argparse.Namespace) -> int:
    """Check every file and return the exit code for all of them.

    Returns 0 when all pass and 65 when any file is damaged.  Otherwise the
    first error's code wins: 66 for a missing file, 77 for an encrypted file
    without a matching identity, and so on.
    """
    settings = load_settings(arguments.config) if arguments.restore_test else None
    level = settings.logging.level if settings else "info"
    # On a terminal the progress lines take the place of the per-table events.
    configure_logging("warning" if sys.stderr.isatty() else level, sys.stderr)
    exit_code = 0
    for path in arguments.backups:
        try:
            _check_one(path, arguments, settings)
        except (AgeIdentityError, BackupNotFoundError) as error:
            print(_("NOT CHECKED {error}").format(error=_naming_file(path, error)))
            exit_code = exit_code or error.exit_code
        except BackupFileError as error:
            print(_("FAILED {error}").format(error=_naming_file(path, error)))
            exit_code = EX_DATAERR
        except BackupToolError as error:
            print(_("FAILED {error}").format(error=_naming_file(path, error)))
            exit_code = exit_code or error.exit_code

    return exit_code


def _naming_file(path: Path, error: BackupToolError) -> str:
    """Return the error message, prefixed with ``path`` unless it already names it."""
    message = str(error)
    if str(path) in message:
        return message
    return _("{file}: {error}").format(file=path, error=message)


def _check_one(path: Path, arguments: argparse.Namespace, settings: Any) -> None:
    result = verify_and_record(path, arguments.identity, Progress())
    print(
        _("OK {file}: {tables} tables, {rows} rows, every checksum matches").format(
            file=path, tables=len(result.tables), rows=result.rows
        )
    )
    if settings is None:
        return
    drill = asyncio.run(drill_backup(settings, path, arguments.identity, Progress()))
    if not drill.ok:
        raise BackupToolError(_("restore test failed: {detail}").format(detail=drill.detail))
    print(
        _("OK {file}: restored into a scratch database; {detail}").format(
            file=path, detail=drill.detail
        )
    )
