"""Find the backup row that made a table's INSERT fail, so the error can name its key.

PostgreSQL names the key for unique and foreign-key violations, but not for
a value that its type rejects, and a CHECK violation lists only the row's
values.  After such a failure the loader bisects the staged rows by
``ctid``: each half is inserted inside a savepoint that is always rolled
back, until one row fails on its own.  That inserts about twice the
table's rows in total, and only after a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from taskagent_backup.i18n import _
from taskagent_backup.restore.drift import ColumnMapping
from taskagent_backup.restore.load import insert_sql

ROW_TEXT_LIMIT = 300
ROWS_CONDITION = "ctid = ANY($1::tid[])"


async def failing_row_key(
    connection: Any,
    mapping: ColumnMapping,
    staged_table: str,
    source: Callable[[str], str],
    *,
    typed: bool,
    skip_existing: bool,
) -> str | None:
    """Return the key of a row of ``staged_table`` that fails to insert on its own.

    ``source(condition)`` returns the typed SELECT of the rows matching
    ``condition``.  ``typed`` is true when ``staged_table`` has typed
    columns, false when it contains the raw ``jsonb`` row.  Returns ``None`` when no single row
    fails alone, e.g. when two rows conflict only with each other.
    """
    rows = [
        row["ctid"]
        for row in await connection.fetch(f"SELECT ctid FROM {staged_table} ORDER BY ctid")
    ]
    query = insert_sql(mapping, source(ROWS_CONDITION), skip_existing=skip_existing)
    while len(rows) > 1:
        half = len(rows) // 2
        if await _fails(connection, query, rows[:half]):
            rows = rows[:half]
        elif await _fails(connection, query, rows[half:]):
            rows = rows[half:]
        else:
            return None
    if not rows or not await _fails(connection, query, rows):
        return None
    return await _describe_row(connection, mapping, staged_table, rows[0], typed=typed)


async def _fails(connection: Any, query: str, rows: list[Any]) -> bool:
    savepoint = connection.transaction()
    await savepoint.start()
    try:
        await connection.execute(query, rows)
    except asyncpg.PostgresError:
        return True
    finally:
        await savepoint.rollback()
    return False


async def _describe_row(
    connection: Any, mapping: ColumnMapping, staged_table: str, ctid: Any, *, typed: bool
) -> str:
    if typed:
        text = await connection.fetchval(
            f"SELECT row_to_json(picked)::text FROM {staged_table} AS picked WHERE ctid = $1", ctid
        )
        values = orjson.loads(text)
    else:
        text = await connection.fetchval(
            f"SELECT r::text FROM {staged_table} WHERE ctid = $1", ctid
        )
        row = orjson.loads(text)
        values = {
            column: row[position]
            for column, position in zip(mapping.columns, mapping.positions, strict=True)
        }
    key = mapping.table.table.primary_key
    if key and all(column in values for column in key):
        return _("key ({columns})=({values})").format(
            columns=", ".join(key), values=", ".join(str(values[c]) for c in key)
        )
    return _("row {values}").format(values=orjson.dumps(values).decode()[:ROW_TEXT_LIMIT])
