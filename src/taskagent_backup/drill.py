"""Restore drill: prove a backup restores by restoring it into a scratch database.

``drill_backup`` creates ``taskagent_backup_drill_<pid>`` on the configured
server, restores the backup there with its embedded schema, and computes
each table's fingerprint in the database with the backup's own export
query: the SHA-256 of the rows' JSON lines in primary-key order and the row
count.  They must equal the manifest written at backup time.  The scratch
database is dropped afterwards whatever happened, and the outcome is
recorded beside the backup for ``list`` and ``status``.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import structlog

from taskagent_backup.checks import record_check
from taskagent_backup.db import connect, query_error
from taskagent_backup.dsn import ConnectionTarget
from taskagent_backup.errors import BackupToolError, DatabaseError
from taskagent_backup.i18n import _
from taskagent_backup.progress import Progress
from taskagent_backup.restore import RestoreOptions, run_restore
from taskagent_backup.settings import Settings
from taskagent_backup.snapshot.catalog import Table, discover_tables
from taskagent_backup.snapshot.export import quote_identifier, stream_table

log = structlog.get_logger(__name__)

DRILL_DATABASE_PREFIX = "taskagent_backup_drill_"
# pg_database.datlocprovider codes other than libc ("c"): CREATE DATABASE keywords.
LOCALE_PROVIDERS = {"i": ("icu", "ICU_LOCALE"), "b": ("builtin", "BUILTIN_LOCALE")}


@dataclass
class DrillResult:
    """The outcome of one restore drill; ``detail`` describes the failure, if any."""

    path: Path
    ok: bool
    database: str
    seconds: float
    tables: int = 0
    rows: int = 0
    mismatches: list[str] = field(default_factory=list)
    detail: str = ""


def drill_database_name() -> str:
    """Return the name of this process's scratch database."""
    return f"{DRILL_DATABASE_PREFIX}{os.getpid()}"


async def drill_backup(
    settings: Settings,
    path: Path,
    identity_paths: list[Path] | None = None,
    progress: Progress | None = None,
) -> DrillResult:
    """Restore ``path`` into a scratch database, compare fingerprints, record the outcome.

    Returns the result, failed when the restore or a fingerprint failed.
    Raises ``DatabaseError`` without recording anything when the scratch
    database cannot be created (e.g. the role lacks CREATEDB) or the
    connection fails, because that is no fault of the backup.
    """
    started = time.monotonic()
    server = settings.database.target()
    name = drill_database_name()
    await _create_scratch(server, name)
    try:
        result = await _drill(path, server.with_database(name), identity_paths, progress)
    finally:
        await _drop_scratch(server, name)
    result.seconds = time.monotonic() - started
    record_check(path, "drill", result.ok, result.detail)
    log.info(
        "drill_finished",
        file=str(path),
        ok=result.ok,
        tables=result.tables,
        rows=result.rows,
        seconds=round(result.seconds, 3),
        detail=result.detail,
    )
    return result


async def _drill(
    path: Path,
    scratch: ConnectionTarget,
    identity_paths: list[Path] | None,
    progress: Progress | None,
) -> DrillResult:
    result = DrillResult(path=path, ok=False, database=scratch.database or "", seconds=0.0)
    options = RestoreOptions(create_schema=True, identity_paths=identity_paths or [])
    try:
        restored = await run_restore(path, scratch, options, progress)
    except DatabaseError:
        raise
    except BackupToolError as error:
        result.detail = f"restore failed: {error}"
        return result
    manifest = restored.manifest
    async with connect(scratch) as connection:
        tables = await discover_tables(connection, _schemas(manifest), ["*"], [])
        for table in tables:
            if table.qualified_name in manifest:
                await _compare(connection, table, manifest[table.qualified_name], result)
    missing = set(manifest) - {table.qualified_name for table in tables}
    result.mismatches += [f"{name}: table missing after restore" for name in sorted(missing)]
    result.ok = not result.mismatches
    result.detail = "; ".join(result.mismatches) or (
        f"{result.tables} tables, {result.rows} rows match the manifest"
    )
    return result


def _schemas(manifest: dict[str, Any]) -> list[str]:
    return sorted({name.partition(".")[0] for name in manifest})


async def table_fingerprint(connection: Any, table: Table) -> tuple[int, str]:
    """Return the row count and SHA-256 of ``table`` as the backup computes them.

    The export query sends each row as its JSON line followed by a newline,
    which is exactly what the backup's SHA-256 covers.
    """
    digest = hashlib.sha256()
    lines = 0

    async def on_chunk(chunk: bytes) -> None:
        nonlocal lines
        digest.update(chunk)
        lines += chunk.count(b"\n")

    await stream_table(connection, table, on_chunk)
    return lines, digest.hexdigest()


async def _compare(
    connection: Any, table: Table, recorded: dict[str, Any], result: DrillResult
) -> None:
    rows, sha256 = await table_fingerprint(connection, table)
    result.tables += 1
    result.rows += rows
    if rows != recorded["rows"] or sha256 != recorded["sha256"]:
        result.mismatches.append(
            f"{table.qualified_name}: restored {rows} rows with SHA-256 {sha256}, "
            f"the backup recorded {recorded['rows']} rows with SHA-256 {recorded['sha256']}"
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scratch_database_sql(name: str, source: dict[str, Any]) -> str:
    """Return the CREATE DATABASE for the scratch database, given the source's pg_database row.

    The scratch database gets the source's collation and locale provider, so
    text primary keys sort the same and the SHA-256 over ordered rows is equal.
    ``source`` is a dict so that columns of newer versions (``datlocprovider``
    since PostgreSQL 15, ``datlocale`` since 17) are read only where present.
    """
    clauses = [
        f"LC_COLLATE {_literal(source['datcollate'])}",
        f"LC_CTYPE {_literal(source['datctype'])}",
    ]
    provider = LOCALE_PROVIDERS.get(source.get("datlocprovider") or "c")
    locale = source.get("daticulocale") or source.get("datlocale")
    if provider and locale:
        clauses.append(f"LOCALE_PROVIDER {provider[0]} {provider[1]} {_literal(locale)}")
    return (
        f"CREATE DATABASE {quote_identifier(name)} TEMPLATE template0 ENCODING 'UTF8' "
        + " ".join(clauses)
    )


async def _create_scratch(server: ConnectionTarget, name: str) -> None:
    async with connect(server) as connection:
        facts = await connection.fetchrow(
            "SELECT to_jsonb(d)::text AS source, current_user AS role FROM pg_database d "
            "WHERE datname = current_database()"
        )
        await connection.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
        statement = scratch_database_sql(name, orjson.loads(facts["source"]))
        try:
            await connection.execute(statement)
        except asyncpg.InsufficientPrivilegeError as error:
            raise DatabaseError(
                _(
                    "the restore drill cannot create its scratch database {database}: role "
                    "{role} lacks CREATEDB; grant it (ALTER ROLE {role} CREATEDB), or for "
                    "the daemon's scheduled drill set drill = \"off\" in [schedule]"
                ).format(database=name, role=facts["role"])
            ) from error
        except asyncpg.PostgresError as error:
            raise query_error(
                _("creating the scratch database {database}").format(database=name), error
            ) from error


async def _drop_scratch(server: ConnectionTarget, name: str) -> None:
    try:
        async with connect(server) as connection:
            await connection.execute(
                f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)"
            )
    except (BackupToolError, asyncpg.PostgresError) as error:
        log.error("drill_database_not_dropped", database=name, error=str(error))
