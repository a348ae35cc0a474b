"""Stream a table's rows out of PostgreSQL as JSON lines.

The server builds each row as a JSON array of the columns' text forms and
sends it through ``COPY ... TO STDOUT``.  COPY's text format would escape
the backslashes that JSON uses, so the CSV format is used with a delimiter
and a quote byte that JSON text never contains unescaped (0x02 and 0x01):
every line then arrives exactly as PostgreSQL's JSON encoder wrote it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from taskagent_backup.snapshot.catalog import Table

COPY_DELIMITER = "\x02"
COPY_QUOTE = "\x01"


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


async def stream_table(
    connection: Any, table: Table, on_chunk: Callable[[bytes], Awaitable[None]]
) -> None:
    """Send ``table``'s rows, one JSON array per line, to ``on_chunk``.

    Chunks hold whole or partial lines in order.  Errors are asyncpg's.
    """
    await connection.copy_from_query(
        export_query(table),
        output=on_chunk,
        format="csv",
        delimiter=COPY_DELIMITER,
        quote=COPY_QUOTE,
    )
