"""One backup run: snapshot, stream every table, publish the file.

``run_backup`` opens one ``REPEATABLE READ, READ ONLY`` transaction, so
every table is read at the same point in time while the application keeps
writing, and streams each table through ``BackupOutput`` into a file that
appears under its backup name only when complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from taskagent_backup import __version__
from taskagent_backup.atomic import ensure_private_directory, remove_stale_partials
from taskagent_backup.db import DRIVER_ERRORS, SESSION_SETTINGS, connect, query_error
from taskagent_backup.diskspace import ensure_free_space
from taskagent_backup.errors import (
    BackupFailed,
    DiskSpaceError,
    RowSecurityError,
)
from taskagent_backup.fileformat.output import BackupOutput
from taskagent_backup.i18n import _
from taskagent_backup.naming import backup_file_name
from taskagent_backup.schema_dump import SchemaDump, dump_schema
from taskagent_backup.settings import Settings
from taskagent_backup.snapshot.catalog import Table, discover_tables, read_sequences
from taskagent_backup.snapshot.export import stream_table
from taskagent_backup.snapshot.parallel import (
    Spool,
    TableQueue,
    copy_spool,
    run_helper,
    snapshot_connections,
)

log = structlog.get_logger(__name__)

# EDQUOT: a full quota looks the same to the operator as a full disk.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

SNAPSHOT_QUERY = """
SELECT current_database() AS database, current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       pg_current_snapshot()::text AS snapshot, current_user AS role
"""


@dataclass
class TableResult:
    """Rows and checksum of one table in a finished backup."""

    name: str
    rows: int
    sha256: str


@dataclass
class BackupResult:
    """The file a successful run wrote, with its size, time and tables."""

    path: Path
    kind: str
    started_at: datetime
    seconds: float
    bytes: int
    tables: list[TableResult] = field(default_factory=list)
    sha256: str = ""

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


async def run_backup(settings: Settings, kind: str, label: str | None = None) -> BackupResult:
    """Back up every selected table into a new file in the backup directory.

    Returns the result of a complete, published file.  Raises
    ``DatabaseError`` when the database cannot be read and ``BackupFailed``
    when the file cannot be written; in both cases no file is left under a
    backup name.  Raises ``DiskSpaceError`` before starting when the
    estimated size would eat into ``backup.free_space_reserve_mb``, and
    when the disk fills while writing.  Cancelling the task removes the
    temporary file too.
    """
    started = time.monotonic()
    started_at = datetime.now(UTC)
    directory = settings.backup.directory
    ensure_private_directory(directory)
    for stale in remove_stale_partials(directory):
        log.warning("stale_partial_removed", file=str(stale))

    await ensure_free_space(settings, kind)
    started_at, name = await _unused_name(settings, kind, label, started_at)
    try:
        output = BackupOutput(
            directory / name,
            settings.backup.compression,
            settings.backup.compression_level,
            settings.backup.encrypt_to,
        )
    except OSError as error:
        raise BackupFailed(
            _("cannot create a file in {directory}: {reason}").format(
                directory=directory, reason=error.strerror
            )
        ) from error

    try:
        tables = await _write_snapshot(settings, output, kind, label, started_at)
        path = await output.commit()
    except BaseException as error:
        await output.abort()
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            raise _disk_full(directory / name, error) from error
        if isinstance(error, OSError):
            raise BackupFailed(
                _("writing {path} failed: {reason}; no backup file was left behind").format(
                    path=directory / name, reason=error.strerror or error
                )
            ) from error
        raise

    return BackupResult(
        path=path,
        kind=kind,
        started_at=started_at,
        seconds=time.monotonic() - started,
        bytes=path.stat().st_size,
        tables=tables,
        sha256=output.file_sha256,
    )


async def _unused_name(
    settings: Settings, kind: str, label: str | None, started_at: datetime
) -> tuple[datetime, str]:
    """Return a start time and file name that no backup in the directory has yet.

    Names carry the start time to the second, so a run that starts in the
    same second as the previous one of its kind waits for the next second
    instead of failing when it publishes its file.
    """
    backup = settings.backup
    encrypted = bool(backup.encrypt_to)
    while True:
        name = backup_file_name(kind, started_at, backup.compression, encrypted, label)
        if not (backup.directory / name).exists():
            return started_at, name
        await asyncio.sleep(1 - started_at.microsecond / 1_000_000)
        started_at = datetime.now(UTC)


def _disk_full(path: Path, error: OSError) -> DiskSpaceError:
    log.error("backup_disk_full", file=str(path), error=error.strerror)
    return DiskSpaceError(
        _(
            "writing {path} failed: {reason}; the temporary file was removed and "
            "every existing backup kept; free space or lower the retention settings"
        ).format(path=path, reason=error.strerror)
    )


async def _write_snapshot(
    settings: Settings, output: BackupOutput, kind: str, label: str | None, started_at: datetime
) -> list[TableResult]:
    database = settings.database
    target = database.target()
    async with connect(target, pgbouncer=database.pgbouncer_transaction_mode) as connection:
        transaction = connection.transaction(isolation="repeatable_read", readonly=True)
        schema_task: asyncio.Task[SchemaDump] | None = None
        try:
            await transaction.start()
            facts = dict(await connection.fetchrow(SNAPSHOT_QUERY))
            tables = await discover_tables(
                connection, database.schemas, database.include_tables, database.exclude_tables
            )
            _check_schemas_exist(database.schemas, tables)
            snapshot_id = await connection.fetchval("SELECT pg_export_snapshot()")
            schema_task = _start_schema_dump(settings, facts, snapshot_id)
            header = _header(kind, label, started_at, facts, database.schemas)
            await output.call(output.document.write_header, header)

            results = await _write_tables(settings, connection, output, tables, snapshot_id)

            sequences = await read_sequences(connection, database.schemas)
            schema = await schema_task if schema_task else None
            trailer = _trailer(results, sequences, schema)
            await output.call(output.document.write_trailer, trailer)
        except DRIVER_ERRORS as error:
            raise query_error(
                _("reading from {server}").format(server=target.display()), error
            ) from error
        finally:
            if schema_task is not None and not schema_task.done():
                schema_task.cancel()
            with contextlib.suppress(*DRIVER_ERRORS, OSError):
                await transaction.rollback()
    return results


def _check_schemas_exist(schemas: list[str], tables: list[Table]) -> None:
    found = {table.schema for table in tables}
    missing = [schema for schema in schemas if schema not in found]
    if missing:
        log.warning("schema_without_tables", schemas=missing)


def _start_schema_dump(
    settings: Settings, facts: dict[str, Any], snapshot_id: str
) -> asyncio.Task[SchemaDump] | None:
    if not settings.backup.embed_schema:
        return None
    return asyncio.create_task(
        dump_schema(
            settings.database.target(), settings.database.schemas,
            facts["server_version_num"], snapshot_id,
        )
    )


async def _write_tables(
    settings: Settings, connection: Any, output: BackupOutput, tables: list[Table],
    snapshot_id: str,
) -> list[TableResult]:
    """Write every table in order, with helpers on the same snapshot spooling ahead."""
    helpers_wanted = settings.backup.parallel_connections - 1
    if helpers_wanted < 1 or len(tables) < 2:
        return [await _write_table(connection, output, table) for table in tables]

    database = settings.database
    async with snapshot_connections(
        database.target(), snapshot_id, helpers_wanted, database.pgbouncer_transaction_mode
    ) as helpers:
        queue = TableQueue(tables)
        tasks = [
            asyncio.create_task(
                run_helper(helper, queue, settings.backup.directory, _translate_errors)
            )
            for helper in helpers
        ]
        try:
            results = []
            for index, table in enumerate(tables):
                spool_future = queue.take_for_main(index)
                spool = await spool_future if spool_future is not None else None
                results.append(await _write_table(connection, output, table, spool))
            return results
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            queue.close_unused()


async def _write_table(
    connection: Any, output: BackupOutput, table: Table, spool: Spool | None = None
) -> TableResult:
    started = time.monotonic()
    await output.call(output.document.begin_table, table.schema, table.name, table.describe())
    if spool is None:
        with _translate_errors(table):
            await stream_table(connection, table, output.write_rows)
    else:
        await copy_spool(spool, output.write_rows)
    await output.flush_rows()
    rows, digest = await output.call(output.document.end_table)
    log.info(
        "table_written", table=table.qualified_name, rows=rows,
        seconds=round(time.monotonic() - started, 3), spooled=spool is not None,
    )
    return TableResult(name=table.qualified_name, rows=rows, sha256=digest)


@contextlib.contextmanager
def _translate_errors(table: Table) -> Iterator[None]:
    """Turn a driver error while reading ``table`` into a ``DatabaseError``."""
    try:
        yield
    except asyncpg.InsufficientPrivilegeError as error:
        if "row-level security" in str(error):
            raise RowSecurityError(
                _(
                    "table {table}: the backup role would see only some rows "
                    "because of row-level security; connect as the table owner or a role "
                    "with BYPASSRLS (ALTER ROLE name BYPASSRLS)"
                ).format(table=table.qualified_name)
            ) from error
        raise query_error(
            _("reading table {table}").format(table=table.qualified_name), error
        ) from error
    except DRIVER_ERRORS as error:
        raise query_error(
            _("reading table {table}").format(table=table.qualified_name), error
        ) from error


def _header(
    kind: str, label: str | None, started_at: datetime, facts: dict[str, Any], schemas: list[str]
) -> dict[str, Any]:
    return {
        "created_at": started_at.isoformat().replace("+00:00", "Z"),
        "kind": kind,
        "label": label,
        "tool": f"taskagent-backup {__version__}",
        "database": facts["database"],
        "server_version": facts["server_version"],
        "role": facts["role"],
        "snapshot": facts["snapshot"],
        "isolation": "repeatable read, read only",
        "schemas": schemas,
        "value_encoding": "postgresql-text",
        "session": {
            name: value for name, value in SESSION_SETTINGS.items()
            if name not in ("row_security", "client_encoding")
        },
    }


def _trailer(
    results: list[TableResult], sequences: list[dict[str, Any]], schema: SchemaDump | None
) -> dict[str, Any]:
    return {
        "manifest": {result.name: {"rows": result.rows, "sha256": result.sha256}
                     for result in results},
        "tables": len(results),
        "rows": sum(result.rows for result in results),
        "sequences": sequences,
        "schema": schema.describe() if schema else {"embedded": False, "reason": "disabled"},
        "completed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "complete": True,
    }
