"""``taskagent-backup restore``: restore a backup, all of it or nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from taskagent_backup.dsn import ConnectionTarget, parse_dsn
from taskagent_backup.errors import ConfigError, UsageError
from taskagent_backup.i18n import _
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.progress import Progress
from taskagent_backup.restore import RestoreOptions, RestoreResult, TableOutcome, run_restore
from taskagent_backup.restore.model import RESTORE_MODES
from taskagent_backup.settings import DatabaseSettings, load_settings

log = structlog.get_logger(__name__)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``restore`` subcommand."""
    parser = subparsers.add_parser(
        "restore",
        parents=[common],
        help=_("restore a backup into a database"),
        description=_(
            "Restore a backup (or an old TaskAgent JSON backup) in one transaction: "
            "on any error the database is left exactly as it was."
        ),
    )
    parser.add_argument("backup", type=Path, help=_("backup file to restore"))
    _add_selection_arguments(parser)
    _add_behaviour_arguments(parser)
    parser.set_defaults(handler=handle)


def _add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target-dsn",
        default=None,
        help=_(
            "database to restore into (default: the configured [database] dsn); without a "
            "password in it, the configured password is used for the same host, port and "
            "user, else PGPASSWORD or ~/.pgpass"
        ),
    )
    parser.add_argument(
        "--tables",
        default="",
        help=_("comma-separated tables to restore, as name or schema.name (default: all)"),
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="TABLE=CONDITION",
        help=_(
            "restore only the rows of TABLE matching the SQL CONDITION, "
            "e.g. projects=\"owner_id = '…'\"; may be repeated"
        ),
    )
    parser.add_argument(
        "--with-dependents",
        action="store_true",
        help=_("also restore the rows of other tables that reference the chosen rows"),
    )


def _add_behaviour_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=RESTORE_MODES,
        default=None,
        help=_(
            "replace: empty the tables first (default for whole tables); "
            "insert-missing: add rows whose key is absent (default with --where); "
            "fail-on-conflict: add rows, fail if a key exists"
        ),
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help=_("do everything, report per table, then roll back"),
    )
    parser.add_argument(
        "--create-schema",
        action="store_true",
        help=_("first create the schema embedded in the backup (target must be empty)"),
    )
    parser.add_argument(
        "--create-missing-auth-users",
        action="store_true",
        help=_("old TaskAgent backups only: add auth.users rows for restored users that lack one"),
    )
    parser.add_argument(
        "--identity",
        type=Path,
        action="append",
        default=[],
        help=_("age identity file to decrypt an encrypted backup; may be repeated"),
    )


def parse_where(items: list[str]) -> dict[str, str]:
    """Return ``TABLE=CONDITION`` arguments as a mapping of table to condition.

    Conditions repeated for the same TABLE are joined with OR, each in
    parentheses, so every one of them selects rows.  Raises ``UsageError``
    when an item is not TABLE=CONDITION.
    """
    conditions: dict[str, str] = {}
    for item in items:
        table, separator, condition = item.partition("=")
        table = table.strip()
        if not separator or not table or not condition.strip():
            raise UsageError(
                _('--where {item!r}: expected TABLE=CONDITION, e.g. projects="id = 1"').format(
                    item=item
                )
            )
        if table in conditions:
            conditions[table] = f"{conditions[table]} OR ({condition})"
        else:
            conditions[table] = f"({condition})"
    return conditions


def restore_target(
    target_dsn: str | None, database: DatabaseSettings
) -> tuple[ConnectionTarget, str | None]:
    """Return the target to restore into and where its DSN came from.

    Without ``target_dsn`` this is the configured ``[database]`` target,
    whose source is ``None``.  A ``target_dsn`` without a password that
    names the same host, port and user as the configured DSN gets the
    configured password (credential, ``password_file`` or DSN) unless
    ``PGPASSWORD`` is set or that source cannot be read.  Any other DSN
    without a password leaves the password to asyncpg, which reads
    ``PGPASSWORD``, then ``PGPASSFILE`` or ``~/.pgpass``.  Raises
    ``UsageError`` for an invalid ``target_dsn``.
    """
    if not target_dsn:
        return database.target(), None
    try:
        target = parse_dsn(target_dsn)
    except ValueError as error:
        raise UsageError(_("--target-dsn: {error}").format(error=error)) from None
    if target.password is None and "PGPASSWORD" not in os.environ:
        configured = parse_dsn(database.dsn.get_secret_value())
        if (target.host, target.port, target.user) == (
            configured.host,
            configured.port,
            configured.user,
        ):
            target = target.with_password(_configured_password(database))
    return target, "--target-dsn"


def _configured_password(database: DatabaseSettings) -> str | None:
    """Return the configured password, or ``None`` when its source cannot be read here.

    An operator's shell may lack the service's credential directory, and
    ``~/.pgpass`` may still have the password, so this is no reason to stop.
    """
    try:
        return database.target().password
    except ConfigError as error:
        log.warning("configured_password_not_used", reason=str(error))
        return None


def handle(arguments: argparse.Namespace) -> int:
    """Run the restore and print the per-table report; return 0 on success."""
    settings = load_settings(arguments.config)
    # On a terminal the progress lines take the place of the per-table events.
    configure_logging("warning" if sys.stderr.isatty() else settings.logging.level, sys.stderr)
    target, dsn_source = restore_target(arguments.target_dsn, settings.database)
    options = RestoreOptions(
        tables=[name.strip() for name in arguments.tables.split(",") if name.strip()],
        where=parse_where(arguments.where),
        with_dependents=arguments.with_dependents,
        mode=arguments.mode,
        dry_run=arguments.dry_run,
        create_schema=arguments.create_schema,
        create_missing_auth_users=arguments.create_missing_auth_users,
        identity_paths=arguments.identity,
        dsn_source=dsn_source,
    )
    result = asyncio.run(run_restore(arguments.backup, target, options, Progress()))
    print_report(result)
    return 1 if result.failed else 0


def print_report(result: RestoreResult) -> None:
    """Print one line per table and a summary line to stdout."""
    for outcome in result.tables:
        print(_table_line(outcome, result.committed))
        if outcome.dropped_columns:
            print(
                _("    not restored, no longer in the table: {columns}").format(
                    columns=", ".join(outcome.dropped_columns)
                )
            )
    if result.committed:
        summary = _("restored {rows} rows into {tables} tables of {target} ({seconds:.1f} s)")
    else:
        summary = _(
            "dry run: {rows} rows would be restored into {tables} tables of {target}; "
            "nothing was changed ({seconds:.1f} s)"
        )
    print(
        summary.format(
            rows=result.inserted,
            tables=len(result.tables),
            target=result.target,
            seconds=result.seconds,
        )
    )


def _table_line(outcome: TableOutcome, committed: bool) -> str:
    if outcome.error:
        return _("  {table}: error: {error}").format(table=outcome.table, error=outcome.error)
    text = _(
        "  {table}: inserted {inserted}, replaced {replaced}, skipped as existing {conflicting}"
    )
    if not committed:
        text = _(
            "  {table}: would insert {inserted}, replace {replaced}, skip as existing {conflicting}"
        )
    return text.format(
        table=outcome.table,
        inserted=outcome.inserted,
        replaced=outcome.replaced,
        conflicting=outcome.conflicting,
    )
