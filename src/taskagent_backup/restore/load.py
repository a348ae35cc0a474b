"""Load backup rows through temporary staging tables into their target tables.

Each table's row lines are streamed with ``COPY ... FROM STDIN`` into a
temporary table with one ``jsonb`` column, using the CSV format with the
delimiter and quote bytes 0x02 and 0x01 that the backup side uses, so every
line arrives unchanged.  An ``INSERT ... SELECT`` then casts each value with
the target column's type: PostgreSQL's input function reads the text form
it wrote itself, so no value passes through a Python type on the way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import asyncpg

from taskagent_backup.errors import ForeignKeyRestoreError, RestoreError, UsageError
from taskagent_backup.i18n import _
from taskagent_backup.restore.drift import ColumnMapping
from taskagent_backup.restore.plan import PlainIndex
from taskagent_backup.snapshot.catalog import ForeignKey, Table
from taskagent_backup.snapshot.export import (
    COPY_DELIMITER,
    COPY_QUOTE,
    qualified,
    quote_identifier,
)

COPY_CHUNK_BYTES = 1 << 20
TRIGGER_ENABLE_CLAUSES = {
    "O": "ENABLE TRIGGER",
    "A": "ENABLE ALWAYS TRIGGER",
    "R": "ENABLE REPLICA TRIGGER",
}


def stage_name(number: int) -> str:
    """Return the name of the staging table for the ``number``-th table."""
    return f"taskagent_restore_stage_{number}"


def pick_name(number: int) -> str:
    """Return the name of the temporary table holding the selected rows."""
    return f"taskagent_restore_pick_{number}"


async def _chunks(rows: Iterator[bytes], on_rows: Callable[[int], None]) -> AsyncIterator[bytes]:
    buffer: list[bytes] = []
    size = 0
    for row in rows:
        buffer.append(row)
        size += len(row) + 1
        if size >= COPY_CHUNK_BYTES:
            on_rows(len(buffer))
            yield b"\n".join(buffer) + b"\n"
            buffer, size = [], 0
    if buffer:
        on_rows(len(buffer))
        yield b"\n".join(buffer) + b"\n"


async def stage_rows(
    connection: Any,
    number: int,
    table: str,
    rows: Iterator[bytes],
    width: int,
    on_rows: Callable[[int], None],
) -> None:
    """Copy ``rows`` into a new staging table and check each has ``width`` values.

    Raises ``RestoreError`` naming ``table`` when a row is not a JSON array of
    that many values.  A damaged file raises ``BackupFileError`` from the reader.
    """
    name = stage_name(number)
    await connection.execute(f"CREATE TEMP TABLE {name} (r jsonb) ON COMMIT DROP")
    try:
        await connection.copy_to_table(
            name,
            source=_chunks(rows, on_rows),
            columns=["r"],
            format="csv",
            delimiter=COPY_DELIMITER,
            quote=COPY_QUOTE,
        )
    except asyncpg.PostgresError as error:
        raise RestoreError(
            _("table {table}: a row of the backup is not valid JSON: {error}").format(
                table=table, error=error
            )
        ) from error
    bad = await connection.fetchval(
        f"SELECT count(*) FROM {name} "
        "WHERE jsonb_typeof(r) <> 'array' OR jsonb_array_length(r) <> $1",
        width,
    )
    if bad:
        raise RestoreError(
            _(
                "table {table}: {bad} rows of the backup do not have {width} values as its "
                "description says; the file is damaged"
            ).format(table=table, bad=bad, width=width)
        )


def typed_rows_sql(mapping: ColumnMapping, source: str) -> str:
    """Return a SELECT of ``source``'s rows with each mapped value cast to its column type."""
    values = [
        f"(r->>{position})::{mapping.table.base_types[column]} AS {quote_identifier(column)}"
        for position, column in zip(mapping.positions, mapping.columns, strict=True)
    ]
    return f"SELECT {', '.join(values) or 'NULL'} FROM {source}"


async def pick_rows(
    connection: Any,
    number: int,
    mapping: ColumnMapping,
    condition: str | None,
    parents: list[tuple[ForeignKey, str]],
) -> int:
    """Keep the staged rows matching ``condition`` or referencing picked parent rows.

    ``parents`` holds (key, pick table of the referenced table).  Returns the
    number of rows kept.  Raises ``UsageError`` naming the table when
    PostgreSQL rejects ``condition``.
    """
    tests = [f"({condition})"] if condition else []
    for key, parent_pick in parents:
        columns = ", ".join(quote_identifier(column) for column in key.columns)
        references = ", ".join(quote_identifier(column) for column in key.ref_columns)
        tests.append(f"({columns}) IN (SELECT {references} FROM {parent_pick})")
    # The alias is the table's own name, so PostgreSQL's errors and hints
    # about the condition name the user's table, not a staging table.
    alias = quote_identifier(mapping.table.table.name)
    query = (
        f"CREATE TEMP TABLE {pick_name(number)} ON COMMIT DROP AS "
        f"SELECT * FROM ({typed_rows_sql(mapping, stage_name(number))}) AS {alias} "
        f"WHERE {' OR '.join(tests) or 'true'}"
    )
    try:
        status = await connection.execute(query)
    except asyncpg.PostgresError as error:
        raise _condition_error(mapping.table.qualified_name, error) from error
    return int(status.split()[-1])


def _condition_error(table: str, error: asyncpg.PostgresError) -> UsageError:
    """Return the error for a ``--where`` condition that PostgreSQL rejected.

    Only an unknown column gets the reminder about column names, because
    for other errors (a value its type rejects) it would point the wrong way.
    """
    message = _("--where for table {table}: the condition failed: {error}").format(
        table=table, error=postgres_message(error)
    )
    if isinstance(error, asyncpg.UndefinedColumnError):
        message += _(
            "; a --where condition uses the column names of the table in the backup, "
            "e.g. owner_id = '...'"
        )
    return UsageError(message)


def postgres_message(error: asyncpg.PostgresError) -> str:
    """Return PostgreSQL's message with its DETAIL and HINT, each once, on one line."""
    return primary_message(error) + _details(error)


def primary_message(error: asyncpg.PostgresError) -> str:
    """Return PostgreSQL's primary message alone.

    ``str()`` of an asyncpg error appends DETAIL and HINT on new lines, so
    adding ``error.detail`` to it would print the detail twice.
    """
    return str(error.args[0]) if error.args else type(error).__name__


def _details(error: asyncpg.PostgresError) -> str:
    # PostgreSQL ends DETAIL and HINT with a full stop, but more clauses may follow here.
    text = ""
    detail = getattr(error, "detail", None)
    hint = getattr(error, "hint", None)
    if detail:
        text += "; " + detail.rstrip(".")
    if hint:
        text += _("; hint: {hint}").format(hint=hint.rstrip("."))
    return text


def insert_sql(mapping: ColumnMapping, source: str, *, skip_existing: bool) -> str:
    """Return the INSERT that copies ``source``'s typed rows into the target table."""
    table = mapping.table.table
    target = qualified(table.schema, table.name)
    columns = ", ".join(quote_identifier(column) for column in mapping.columns)
    overriding = " OVERRIDING SYSTEM VALUE" if mapping.overriding_system_value else ""
    query = (
        f"INSERT INTO {target} ({columns}){overriding} "
        f"SELECT {columns} FROM ({source}) AS backup_rows"
    )
    if not skip_existing:
        return query
    key = table.primary_key
    if key and set(key) <= set(mapping.columns):
        matches = " AND ".join(
            f"existing.{quote_identifier(column)} = backup_rows.{quote_identifier(column)}"
            for column in key
        )
        return f"{query} WHERE NOT EXISTS (SELECT 1 FROM {target} AS existing WHERE {matches})"
    return f"{query} ON CONFLICT DO NOTHING"


async def insert_rows(
    connection: Any, mapping: ColumnMapping, source: str, *, skip_existing: bool
) -> int:
    """Insert the rows of ``source`` and return how many were inserted.

    Raises ``RestoreError`` naming the table, the constraint and the row's
    key or values as PostgreSQL reports them.
    """
    try:
        status = await connection.execute(insert_sql(mapping, source, skip_existing=skip_existing))
    except asyncpg.PostgresError as error:
        raise load_error(
            mapping.table.qualified_name, error, mapping.table.table.foreign_keys
        ) from error
    return int(status.split()[-1])


def load_error(
    table: str, error: asyncpg.PostgresError, foreign_keys: Sequence[ForeignKey] = ()
) -> RestoreError:
    """Return a ``RestoreError`` with the table, the cause and PostgreSQL's detail.

    For key and foreign-key violations the detail names the row's key; for
    CHECK and NOT NULL violations it lists the failing row's values.  A
    foreign-key violation of one of ``foreign_keys`` returns a
    ``ForeignKeyRestoreError`` naming the schema-qualified referenced table,
    because PostgreSQL's detail names it without its schema.
    """
    message = _("table {table}: {error}").format(table=table, error=primary_message(error))
    constraint = getattr(error, "constraint_name", None)
    referenced = _referenced_table(constraint, foreign_keys)
    if constraint and referenced:
        message += _(" (constraint {constraint}, referencing {referenced})").format(
            constraint=constraint, referenced=referenced
        )
    elif constraint:
        message += _(" (constraint {constraint})").format(constraint=constraint)
    message += _details(error)
    if isinstance(error, asyncpg.ForeignKeyViolationError):
        return ForeignKeyRestoreError(message, referenced)
    return RestoreError(message)


def _referenced_table(constraint: str | None, foreign_keys: Sequence[ForeignKey]) -> str | None:
    for key in foreign_keys:
        if key.name == constraint:
            return f"{key.ref_schema}.{key.ref_table}"
    return None


async def disable_triggers(connection: Any, triggers: list[tuple[Table, str, str]]) -> None:
    """Disable each user trigger so loaded rows are stored exactly as backed up.

    Needs ownership of the tables; the change is part of the transaction.
    """
    for table, name, _state in triggers:
        await connection.execute(
            f"ALTER TABLE {qualified(table.schema, table.name)} "
            f"DISABLE TRIGGER {quote_identifier(name)}"
        )


async def enable_triggers(connection: Any, triggers: list[tuple[Table, str, str]]) -> None:
    """Put each trigger back into the state it had before ``disable_triggers``."""
    for table, name, state in triggers:
        clause = TRIGGER_ENABLE_CLAUSES.get(state, "ENABLE TRIGGER")
        await connection.execute(
            f"ALTER TABLE {qualified(table.schema, table.name)} {clause} {quote_identifier(name)}"
        )


async def set_keys_aside(
    connection: Any, keys: list[tuple[Table, ForeignKey]], *, drop_all: bool = False
) -> list[tuple[Table, ForeignKey]]:
    """Defer deferrable keys and drop the others; return the dropped ones.

    With ``drop_all`` deferrable keys are dropped too.  Re-adding a key
    checks all its rows in one query, which is much faster for whole tables
    than the per-row checks of a key that stays in place.
    """
    dropped = []
    for table, key in keys:
        constraint = qualified(table.schema, key.name)
        if key.deferrable and not drop_all:
            await connection.execute(f"SET CONSTRAINTS {constraint} DEFERRED")
            continue
        await connection.execute(
            f"ALTER TABLE {qualified(table.schema, table.name)} "
            f"DROP CONSTRAINT {quote_identifier(key.name)}"
        )
        dropped.append((table, key))
    return dropped


async def restore_keys(connection: Any, dropped: list[tuple[Table, ForeignKey]]) -> None:
    """Re-add dropped keys, which validates them, and check deferred keys now.

    Raises ``RestoreError`` naming the table and the key that does not hold.
    """
    for table, key in dropped:
        try:
            await connection.execute(
                f"ALTER TABLE {qualified(table.schema, table.name)} "
                f"ADD CONSTRAINT {quote_identifier(key.name)} {key.definition}"
            )
        except asyncpg.PostgresError as error:
            raise load_error(table.qualified_name, error, [key]) from error
    try:
        await connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except asyncpg.PostgresError as error:
        raise load_error(getattr(error, "table_name", None) or "(deferred key)", error) from error


async def drop_indexes(connection: Any, indexes: list[PlainIndex]) -> None:
    """Drop the given indexes; ``create_indexes`` builds them again after loading."""
    for index in indexes:
        await connection.execute(f"DROP INDEX {index.name}")


async def create_indexes(connection: Any, indexes: list[PlainIndex]) -> None:
    """Build the indexes dropped by ``drop_indexes``.

    Raises ``RestoreError`` naming the table and the index when it cannot be
    built, e.g. a unique index that the restored rows violate.
    """
    for index in indexes:
        try:
            await connection.execute(index.definition)
        except asyncpg.PostgresError as error:
            raise load_error(
                _("{table} (index {index})").format(table=index.table, index=index.name), error
            ) from error
