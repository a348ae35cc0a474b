"""Stream a table's rows out of PostgreSQL as JSON lines.

The server builds each row as a JSON array of the columns' text forms and
sends it through ``COPY ... TO STDOUT``.  COPY's text format would escape
the backslashes that JSON uses, so the CSV format is used with a delimiter
and a quote byte that JSON text never contains unescaped (0x02 and 0x01):
every line then arrives exactly as PostgreSQL's JSON encoder wrote it.

A table whose physical row order does not follow its primary key (random
UUID keys, say) is read with a sequential scan and a sort instead of the
primary key index.  Reading it in index order visits one random heap page
per row: with the TaskAgent sample data (random UUID keys, about 2.26
million rows) the sort used about half the server CPU of the index scan,
as measured by ``bench/run_benchmark.py`` (see docs/benchmark.md).  The
order, and so every byte of the output, is the same either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from taskagent_backup.snapshot.catalog import Table

COPY_DELIMITER = "\x02"
COPY_QUOTE = "\x01"
# Below this absolute correlation between the primary key's first column
# and the physical row order, the export sorts instead of scanning the
# index.  At 0.5 an index scan already jumps between heap pages for most rows.
SORT_BELOW_CORRELATION = 0.5

# pg_stats has two rows for a table with inheritance children; the one
# without them (inherited = false) describes the rows that ONLY reads.
SORT_FACTS_QUERY = """
SELECT current_setting('temp_file_limit') = '-1' AS unlimited_temp_files,
       (SELECT correlation FROM pg_stats
        WHERE schemaname = $1 AND tablename = $2 AND attname = $3
        ORDER BY inherited LIMIT 1) AS correlation
"""


def quote_identifier(name: str) -> str:
    """Quote an SQL identifier the way ``quote_ident`` always would."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """Return ``"schema"."name"`` for use in SQL."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def row_expression(table: Table) -> str:
    """Return the SQL expression that turns one row into a JSON array.

    ``col::text`` is PostgreSQL's own text form, which its input functions
    read back to the same value, under the fixed session settings of
    ``taskagent_backup.db``.
    """
    values = ", ".join(f"{quote_identifier(column.name)}::text" for column in table.columns)
    return f"array_to_json(ARRAY[{values}]::text[])"


def export_query(table: Table) -> str:
    """Return the SELECT that lists ``table``'s rows in a deterministic order.

    Rows are ordered by primary key; a table without one is ordered by the
    row's JSON text in the C collation.  Only the table itself is read for
    plain tables, so inheritance children are not written twice.
    """
    source = qualified(table.schema, table.name)
    only = "" if table.partitioned else "ONLY "
    if table.primary_key:
        order = ", ".join(quote_identifier(column) for column in table.primary_key)
    else:
        order = '1::text COLLATE "C"'
    if not table.columns:
        return f"SELECT '[]'::json FROM {only}{source}"
    return f"SELECT {row_expression(table)} FROM {only}{source} ORDER BY {order}"


async def prefers_sort(connection: Any, table: Table) -> bool:
    """Tell whether a sequential scan and sort should replace the primary key index.

    True only when the planner statistics show a correlation below
    ``SORT_BELOW_CORRELATION``.  A table never analyzed keeps the planner's
    choice.  The sort spills into temporary files on the server, about as
    large as the table's JSON output (196 MB for the 119 MB sample
    ``tasks`` table).  Any ``temp_file_limit`` therefore keeps the index,
    because the spill could exceed the limit and fail the backup.
    """
    if not table.primary_key:
        return False
    facts = await connection.fetchrow(
        SORT_FACTS_QUERY, table.schema, table.name, table.primary_key[0]
    )
    correlation: float | None = facts["correlation"]
    if not facts["unlimited_temp_files"] or correlation is None:
        return False

    return abs(correlation) < SORT_BELOW_CORRELATION


async def stream_table(
    connection: Any, table: Table, on_chunk: Callable[[bytes], Awaitable[None]]
) -> None:
    """Send ``table``'s rows, one JSON array per line, to ``on_chunk``.

    Chunks hold whole or partial lines in order.  Inside a transaction the
    query may run with index scans disabled (see ``prefers_sort``), which
    changes the plan but not the output.  Errors are asyncpg's.
    """
    # SET LOCAL only works inside a transaction block; a failed COPY aborts
    # that transaction, which undoes the setting without the RESET.
    sort = connection.is_in_transaction() and await prefers_sort(connection, table)
    if sort:
        await connection.execute("SET LOCAL enable_indexscan = off")
    await connection.copy_from_query(
        export_query(table),
        output=on_chunk,
        format="csv",
        delimiter=COPY_DELIMITER,
        quote=COPY_QUOTE,
    )
    if sort:
        await connection.execute("RESET enable_indexscan")
