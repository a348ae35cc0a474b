"""Restore a backup into a database in one transaction: all of it or nothing.

``run_restore`` reads the backup once, copying the rows of each chosen table
into a temporary staging table while the reader checks every table's row
count and SHA-256.  Only then does it touch the target tables: it checks
the columns against the target, empties the tables being replaced, loads
them parents first, restores set-aside foreign keys and moves sequences.
Any error rolls the whole transaction back, and a dry run always does.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from taskagent_backup.db import connect
from taskagent_backup.dsn import ConnectionTarget
from taskagent_backup.errors import (
    BackupToolError,
    DatabaseError,
    ForeignKeyRestoreError,
    RestoreError,
)
from taskagent_backup.fileformat.reader import TableSection
from taskagent_backup.i18n import _
from taskagent_backup.progress import Progress
from taskagent_backup.restore import diagnose, load, plan, selection, sequences
from taskagent_backup.restore.drift import ColumnMapping, map_columns
from taskagent_backup.restore.legacy import (
    AUTH_USERS,
    LEGACY_FORMAT,
    LEGACY_SCHEMA,
    create_auth_user_stubs,
    missing_auth_users_hint,
)
from taskagent_backup.restore.model import RestoreOptions, RestoreResult, TableOutcome
from taskagent_backup.restore.schema import apply_schema
from taskagent_backup.restore.source import BackupSource, open_source
from taskagent_backup.snapshot.catalog import Table, is_selected
from taskagent_backup.snapshot.export import qualified

log = structlog.get_logger(__name__)


@dataclass
class StagedTable:
    """A backup table copied into staging, with its column mapping."""

    number: int
    section: TableSection
    mapping: ColumnMapping
    outcome: TableOutcome
    condition: str | None = None
    picked: bool = False

    @property
    def table(self) -> Table:
        return self.mapping.table.table

    @property
    def staged_table(self) -> str:
        """Return the temporary table holding the rows to load."""
        return load.pick_name(self.number) if self.picked else load.stage_name(self.number)

    def source_sql(self, condition: str | None = None) -> str:
        """Return the SELECT of the typed rows to load, optionally filtered by ``condition``."""
        where = f" WHERE {condition}" if condition else ""
        if self.picked:
            return f"SELECT * FROM {self.staged_table}{where}"
        return load.typed_rows_sql(self.mapping, f"{self.staged_table}{where}")


@dataclass
class RestoreRun:
    """The state of one restore while it runs."""

    source: BackupSource
    options: RestoreOptions
    progress: Progress
    connection: Any = None
    staged: list[StagedTable] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    schema_created: bool = False
    backup_tables: list[str] = field(default_factory=list)


async def run_restore(
    path: Path, target: ConnectionTarget, options: RestoreOptions, progress: Progress | None = None
) -> RestoreResult:
    """Restore the backup at ``path`` into ``target`` as ``options`` specify.

    Returns the per-table outcome; with ``options.dry_run`` nothing is
    committed.  Raises ``BackupFileError`` for a damaged file,
    ``RestoreError`` for anything that made the restore roll back and
    ``DatabaseError`` when the target cannot be reached.
    """
    options.check()
    started = time.monotonic()
    run = RestoreRun(open_source(path, options.identity_paths), options, progress or Progress())
    async with connect(target, dsn_source=options.dsn_source) as connection:
        run.connection = connection
        transaction = connection.transaction()
        await transaction.start()
        try:
            sequences_set = await _restore_in_transaction(connection, run)
        except BaseException as error:
            # A lost connection cannot roll back, but the server aborts its transaction.
            with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                await transaction.rollback()
            log.error("restore_failed", backup=str(path), target=target.display(), error=str(error))
            if isinstance(error, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
                raise _unexpected_error(error) from error
            raise
        await _finish_transaction(transaction, options.dry_run)
    result = RestoreResult(
        backup=path,
        target=target.display(),
        mode=options.effective_mode(),
        committed=not options.dry_run,
        schema_created=run.schema_created,
        seconds=time.monotonic() - started,
        tables=[staged.outcome for staged in run.staged],
        sequences_set=sequences_set,
        manifest=run.source.trailer.get("manifest") or {},
    )
    _log_summary(result)
    return result


def _unexpected_error(error: Exception) -> BackupToolError:
    """Translate a driver error that no step translated, e.g. a missing privilege."""
    if not isinstance(error, asyncpg.PostgresError):
        return DatabaseError(
            _(
                "the connection to the database failed during the restore ({error}); the "
                "server rolls back an interrupted transaction, so nothing was changed"
            ).format(error=error)
        )
    message = _("the restore failed and was rolled back: {error}").format(
        error=load.postgres_message(error)
    )
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        message += _(
            "; the restore disables triggers and drops and re-adds foreign keys, which "
            "needs ownership of the restored tables: connect as their owner"
        )
    return RestoreError(message)


async def _finish_transaction(transaction: Any, dry_run: bool) -> None:
    if dry_run:
        await transaction.rollback()
        return
    try:
        await transaction.commit()
    except asyncpg.PostgresError as error:
        raise load.load_error(
            getattr(error, "table_name", None) or _("(at commit)"), error
        ) from error
    except (asyncpg.InterfaceError, OSError) as error:
        raise DatabaseError(
            _(
                "the connection failed while committing the restore ({error}); it is unknown "
                "whether the restore was applied, so check the target's tables"
            ).format(error=error)
        ) from error


async def _restore_in_transaction(connection: Any, run: RestoreRun) -> int:
    sections = await _stage_all(connection, run)
    selection.check_selection(run.options, run.backup_tables)
    schemas = run.source.header.get("schemas") or [LEGACY_SCHEMA]
    if run.options.create_schema:
        await apply_schema(connection, run.source.trailer, schemas)
        run.schema_created = True
    targets = await plan.read_target_tables(connection, schemas)
    _map_all(run, sections, targets)
    if run.problems:
        raise RestoreError(
            _("the backup does not fit the target database; nothing was changed:")
            + "\n  "
            + "\n  ".join(sorted(run.problems))
            + _missing_tables_advice(run, sections, targets)
        )
    if run.options.create_missing_auth_users and run.source.header.get("format") == LEGACY_FORMAT:
        await _create_auth_stubs(connection, run)
    chosen = await _choose_rows(connection, run)
    return await _load_all(connection, run, chosen)


def _is_requested(run: RestoreRun, section: TableSection) -> bool:
    options = run.options
    if not options.tables and not options.where:
        return True
    if options.with_dependents and options.where:
        return True
    return is_selected(section.schema, section.name, options.tables + list(options.where), [])


def _condition_for(run: RestoreRun, section: TableSection) -> str | None:
    """Return the OR of every ``--where`` condition naming ``section``'s table.

    ``projects`` and ``public.projects`` are separate keys of
    ``options.where`` that name the same table, so both count.
    """
    conditions = [
        condition
        for pattern, condition in run.options.where.items()
        if is_selected(section.schema, section.name, [pattern], [])
    ]
    if not conditions:
        return None
    return " OR ".join(f"({condition})" for condition in conditions)


async def _stage_all(connection: Any, run: RestoreRun) -> list[tuple[int, TableSection]]:
    """Copy every wanted table into staging; the reader checks the whole file meanwhile.

    The embedded schema and the sequences are in the trailer at the end of
    the file, so nothing about the target is decided before this pass ends.
    """
    sections: list[tuple[int, TableSection]] = []
    for section in run.source.tables():
        run.backup_tables.append(section.qualified_name)
        if not _is_requested(run, section):
            continue
        number = len(sections) + 1
        run.progress.start(section.qualified_name, int(section.table.get("estimated_rows") or 0))
        await load.stage_rows(
            connection,
            number,
            section.qualified_name,
            run.source.rows(section),
            len(section.table.get("columns", [])),
            run.progress.advance,
        )
        run.progress.finish(section.rows_read)
        log.info("table_staged", table=section.qualified_name, rows=section.rows_read)
        sections.append((number, section))
    return sections


def _map_all(
    run: RestoreRun, sections: list[tuple[int, TableSection]], targets: dict[str, plan.TargetTable]
) -> None:
    for number, section in sections:
        target = targets.get(section.qualified_name)
        if target is None:
            run.problems.append(
                _("{table}: table does not exist in the target database").format(
                    table=section.qualified_name
                )
            )
            continue
        mapping = map_columns(section.table, target, has_rows=section.rows_read > 0)
        run.problems += mapping.problems
        outcome = TableOutcome(
            table=section.qualified_name,
            rows_in_backup=section.rows_read,
            dropped_columns=mapping.dropped,
            defaulted_columns=mapping.defaulted,
        )
        run.staged.append(
            StagedTable(number, section, mapping, outcome, _condition_for(run, section))
        )


def _missing_tables_advice(
    run: RestoreRun, sections: list[tuple[int, TableSection]], targets: dict[str, plan.TargetTable]
) -> str:
    """Return a closing line on how to create missing tables, or "" when none is missing."""
    missing = [section for _number, section in sections if section.qualified_name not in targets]
    if not missing:
        return ""
    if (run.source.trailer.get("schema") or {}).get("embedded"):
        advice = _(
            "{missing} of {count} tables are missing in the target: create the schema first "
            "(e.g. with the application's migrations), or restore into an empty database "
            "with --create-schema, which creates the schema embedded in this backup"
        )
    else:
        advice = _(
            "{missing} of {count} tables are missing in the target: create the schema first, "
            "e.g. with the application's migrations; this backup embeds no schema, so "
            "--create-schema cannot create it"
        )
    return "\n" + advice.format(missing=len(missing), count=len(sections))


async def _create_auth_stubs(connection: Any, run: RestoreRun) -> None:
    for staged in run.staged:
        if staged.section.qualified_name == f"{LEGACY_SCHEMA}.users":
            created = await create_auth_user_stubs(
                connection, load.stage_name(staged.number), staged.section.table
            )
            log.info("auth_users_created", rows=created)


async def _choose_rows(connection: Any, run: RestoreRun) -> list[StagedTable]:
    if not run.options.where:
        for staged in run.staged:
            staged.outcome.selected = staged.outcome.rows_in_backup
        return list(run.staged)
    by_name = {staged.section.qualified_name: staged for staged in run.staged}
    order, _ = plan.load_order([staged.table for staged in run.staged])
    chosen: list[StagedTable] = []
    for table in order:
        staged = by_name[table.qualified_name]
        if await _pick(connection, run, staged, chosen):
            chosen.append(staged)
    return chosen


async def _pick(
    connection: Any, run: RestoreRun, staged: StagedTable, chosen: list[StagedTable]
) -> bool:
    """Select the rows of one table for a row restore; tell whether it is restored."""
    picked = {other.section.qualified_name: other for other in chosen}
    parents = []
    if run.options.with_dependents:
        # NOTE: rows that reference picked rows of their own table are not followed.
        for key in staged.table.foreign_keys:
            parent = picked.get(plan.referenced_name(key))
            if parent is not None and parent is not staged:
                parents.append((key, load.pick_name(parent.number)))
    if staged.condition is None and not parents:
        if not is_selected(staged.section.schema, staged.section.name, run.options.tables, []):
            return False
        staged.outcome.selected = staged.outcome.rows_in_backup
        return True
    staged.outcome.selected = await load.pick_rows(
        connection, staged.number, staged.mapping, staged.condition, parents
    )
    staged.picked = True
    return True


async def _load_all(connection: Any, run: RestoreRun, chosen: list[StagedTable]) -> int:
    mode = run.options.effective_mode()
    run.staged = chosen
    tables = [staged.table for staged in chosen]
    order, set_aside = plan.load_order(tables)
    by_name = {staged.table.qualified_name: staged for staged in chosen}

    triggers = await plan.enabled_user_triggers(connection, tables)
    await load.disable_triggers(connection, triggers)
    indexes: list[plan.PlainIndex] = []
    if mode == "replace":
        await _empty_tables(connection, chosen)
        # Whole tables load like pg_restore does: keys and plain indexes come after the rows.
        set_aside = [(table, key) for table in tables for key in table.foreign_keys]
        indexes = await plan.rebuildable_indexes(connection, tables)
        await load.drop_indexes(connection, indexes)
    dropped = await load.set_keys_aside(connection, set_aside, drop_all=mode == "replace")
    for table in order:
        await _load_one(connection, run, by_name[table.qualified_name], mode)
    await _dry_run_guard(run, load.create_indexes(connection, indexes))
    await _dry_run_guard(run, load.restore_keys(connection, dropped))
    await load.enable_triggers(connection, triggers)

    recorded = sequences.recorded_values(run.source.trailer)
    count = await sequences.reset_sequences(
        connection, tables, recorded, keep_current=mode != "replace"
    )
    for staged in chosen:
        _log_table(staged.outcome)
    return count


async def _empty_tables(connection: Any, chosen: list[StagedTable]) -> None:
    """Count and remove the rows of the tables being replaced, with one TRUNCATE.

    Raises ``RestoreError`` listing the tables outside the restore that
    reference them, because TRUNCATE would have to empty those as well.
    """
    for staged in chosen:
        staged.outcome.replaced = await connection.fetchval(
            f"SELECT count(*) FROM {_own_rows(staged.table)}"
        )
    if not any(staged.outcome.replaced for staged in chosen):
        return
    references = await plan.outside_references(connection, [staged.table for staged in chosen])
    if references:
        listed = ", ".join(
            _("{referencing} (references {referenced})").format(
                referencing=referencing, referenced=referenced
            )
            for referencing, referenced in references
        )
        raise RestoreError(
            _(
                "replacing these tables would also empty tables that are not being restored: "
                "{tables}; add them to --tables, or restore rows with --mode insert-missing"
            ).format(tables=listed)
        )
    names = ", ".join(_own_rows(staged.table) for staged in chosen)
    try:
        await connection.execute(f"TRUNCATE {names}")
    except asyncpg.PostgresError as error:
        raise RestoreError(
            _("emptying the tables to replace failed: {error}").format(
                error=load.postgres_message(error)
            )
        ) from error


def _own_rows(table: Table) -> str:
    """Return the table for SQL, with ONLY unless partitioned.

    Without ONLY, TRUNCATE would also empty inheritance children, which are
    tables of their own and may not be part of the restore.  A partitioned
    table has no rows of its own, and PostgreSQL rejects ONLY for it.
    """
    name = qualified(table.schema, table.name)
    return name if table.partitioned else f"ONLY {name}"


async def _load_one(connection: Any, run: RestoreRun, staged: StagedTable, mode: str) -> None:
    skip_existing = mode == "insert-missing"
    if not staged.outcome.selected:
        # Nothing to insert, and an old-format empty table has no columns to name.
        return

    async def insert() -> None:
        savepoint = connection.transaction()
        await savepoint.start()
        try:
            staged.outcome.inserted = await load.insert_rows(
                connection, staged.mapping, staged.source_sql(), skip_existing=skip_existing
            )
        except RestoreError as error:
            await savepoint.rollback()
            described = await _with_row_key(connection, staged, error, skip_existing)
            if described is error:
                raise
            raise described from error
        await savepoint.commit()

    await _dry_run_guard(run, insert(), staged.outcome)
    if skip_existing and not staged.outcome.error:
        staged.outcome.conflicting = staged.outcome.selected - staged.outcome.inserted


async def _with_row_key(
    connection: Any, staged: StagedTable, error: RestoreError, skip_existing: bool
) -> RestoreError:
    """Return ``error`` with the failing row's key added when PostgreSQL did not name it."""
    if "Key (" in str(error):
        return error
    key = await diagnose.failing_row_key(
        connection,
        staged.mapping,
        staged.staged_table,
        staged.source_sql,
        typed=staged.picked,
        skip_existing=skip_existing,
    )
    if not key:
        return error
    return RestoreError(_("{error}; the failing row has {key}").format(error=error, key=key))


async def _dry_run_guard(run: RestoreRun, step: Any, outcome: TableOutcome | None = None) -> None:
    """Run ``step``; in a dry run, record its ``RestoreError`` instead of raising it.

    A savepoint keeps the transaction usable after the error, so the dry run
    can report every table.
    """
    if not run.options.dry_run:
        try:
            await step
        except ForeignKeyRestoreError as error:
            raise _with_legacy_hint(run, error) from error
        return
    try:
        async with run.connection.transaction():
            await step
    except RestoreError as error:
        error = _with_legacy_hint(run, error)
        target = outcome or _outcome_named_in(run, str(error))
        target.error = str(error)


def _with_legacy_hint(run: RestoreRun, error: RestoreError) -> RestoreError:
    """Return ``error`` with the --create-missing-auth-users advice where it applies."""
    if (
        isinstance(error, ForeignKeyRestoreError)
        and error.referenced_table == AUTH_USERS
        and run.source.header.get("format") == LEGACY_FORMAT
        and not run.options.create_missing_auth_users
    ):
        return RestoreError(str(error) + missing_auth_users_hint())
    return error


def _outcome_named_in(run: RestoreRun, message: str) -> TableOutcome:
    for staged in run.staged:
        # load_error's message starts "table NAME: " or "table NAME (index ...)".
        head = _("table {table}: {error}").format(table=staged.outcome.table, error="")
        if message.startswith((head, head.rstrip(": ") + " (")):
            return staged.outcome
    return run.staged[0].outcome


def _log_table(outcome: TableOutcome) -> None:
    log.info(
        "table_restored",
        table=outcome.table,
        rows_in_backup=outcome.rows_in_backup,
        selected=outcome.selected,
        inserted=outcome.inserted,
        replaced=outcome.replaced,
        conflicting=outcome.conflicting,
        dropped_columns=outcome.dropped_columns,
        defaulted_columns=outcome.defaulted_columns,
        error=outcome.error,
    )
    if outcome.dropped_columns:
        log.warning("columns_not_restored", table=outcome.table, columns=outcome.dropped_columns)


def _log_summary(result: RestoreResult) -> None:
    log.info(
        "restore_finished",
        backup=str(result.backup),
        target=result.target,
        mode=result.mode,
        committed=result.committed,
        tables=len(result.tables),
        rows=result.inserted,
        sequences=result.sequences_set,
        schema_created=result.schema_created,
        seconds=round(result.seconds, 3),
        failed_tables=sum(1 for t in result.tables if t.error),
    )
