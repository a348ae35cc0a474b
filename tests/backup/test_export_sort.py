"""The export's choice between the primary key index and a sort, on a real server."""

from __future__ import annotations

from typing import Any

from taskagent_backup.snapshot.catalog import Table, discover_tables
from taskagent_backup.snapshot.export import prefers_sort, stream_table
from tests.conftest import NewDatabase, connect_to

ROWS = 5000

SCHEMA_SQL = f"""
CREATE TABLE random_keys (id uuid PRIMARY KEY, note text);
INSERT INTO random_keys
SELECT md5('row' || n)::uuid, 'note "' || n || E'"\\n\\\\ ' || repeat('x', n % 40)
FROM generate_series(1, {ROWS}) AS n;
CREATE TABLE ordered_keys (id bigint PRIMARY KEY, note text);
INSERT INTO ordered_keys SELECT n, 'row ' || n FROM generate_series(1, {ROWS}) AS n;
CREATE TABLE no_key (note text);
INSERT INTO no_key SELECT 'row ' || n FROM generate_series(1, 10) AS n;
"""


async def prepared(new_database: NewDatabase, analyze: bool = True) -> tuple[Any, dict[str, Table]]:
    connection = await connect_to(await new_database("export_sort"))
    await connection.execute(SCHEMA_SQL)
    if analyze:
        await connection.execute("ANALYZE")
    tables = await discover_tables(connection, ["public"], ["*"], [])
    return connection, {table.name: table for table in tables}


async def exported(connection: Any, table: Table) -> bytes:
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    await stream_table(connection, table, collect)
    return b"".join(chunks)


async def test_prefers_sort_random_keys_true(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database)
    try:
        assert await prefers_sort(connection, tables["random_keys"]) is True
    finally:
        await connection.close()


async def test_prefers_sort_ordered_keys_false(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database)
    try:
        assert await prefers_sort(connection, tables["ordered_keys"]) is False
    finally:
        await connection.close()


async def test_prefers_sort_without_key_false(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database)
    try:
        assert await prefers_sort(connection, tables["no_key"]) is False
    finally:
        await connection.close()


async def test_prefers_sort_never_analyzed_false(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database, analyze=False)
    try:
        assert await prefers_sort(connection, tables["random_keys"]) is False
    finally:
        await connection.close()


async def test_prefers_sort_temp_file_limit_false(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database)
    try:
        await connection.execute("SET temp_file_limit = '1GB'")

        assert await prefers_sort(connection, tables["random_keys"]) is False
    finally:
        await connection.close()


async def test_stream_table_sorted_output_identical(new_database: NewDatabase) -> None:
    connection, tables = await prepared(new_database)
    try:
        table = tables["random_keys"]
        await connection.execute("SET enable_seqscan = off")
        by_index = await exported(connection, table)
        await connection.execute("RESET enable_seqscan")
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            by_sort = await exported(connection, table)
            setting_after = await connection.fetchval("SHOW enable_indexscan")

        assert by_sort == by_index
        assert by_sort.count(b"\n") == ROWS
        assert setting_after == "on"
    finally:
        await connection.close()
