"""Tables exported on extra connections that share the backup's snapshot."""

from __future__ import annotations

from pathlib import Path

import structlog

from taskagent_backup.backup import run_backup
from taskagent_backup.fileformat.reader import read_backup
from tests.conftest import connect_to, make_settings


def table_lines(path: Path) -> dict[str, list[bytes]]:
    reader = read_backup(path)
    return {section.qualified_name: list(reader.rows(section)) for section in reader.tables()}


async def test_parallel_export_writes_same_rows(taskagent_dsn: str, tmp_path: Path) -> None:
    connection = await connect_to(taskagent_dsn)
    await connection.execute("ANALYZE")
    await connection.close()
    one = make_settings(taskagent_dsn, tmp_path / "one", backup={"parallel_connections": 1})
    three = make_settings(taskagent_dsn, tmp_path / "three", backup={"parallel_connections": 3})

    sequential = await run_backup(one, "manual")
    parallel = await run_backup(three, "manual")

    assert table_lines(parallel.path) == table_lines(sequential.path)
    assert [t.sha256 for t in parallel.tables] == [t.sha256 for t in sequential.tables]
    assert list((tmp_path / "three").glob(".spool-*")) == []


async def test_parallel_export_without_spare_connection_runs_sequentially(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    connection = await connect_to(taskagent_dsn)
    try:
        await connection.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'one_connection') "
            "THEN CREATE ROLE one_connection LOGIN BYPASSRLS CONNECTION LIMIT 1; END IF; END $$;"
            "GRANT USAGE ON SCHEMA public, auth TO one_connection;"
            "GRANT SELECT ON ALL TABLES IN SCHEMA public, auth TO one_connection;"
        )
    finally:
        await connection.close()
    dsn = taskagent_dsn.replace("postgresql://postgres@", "postgresql://one_connection@")
    settings = make_settings(dsn, tmp_path, backup={"embed_schema": False})

    with structlog.testing.capture_logs() as events:
        result = await run_backup(settings, "manual")

    assert len(result.tables) == 14
    assert result.rows > 0
    warnings = [event for event in events if event["event"] == "parallel_export_unavailable"]
    assert len(warnings) == 1
    assert "too many connections" in warnings[0]["error"]


async def test_table_queue_takes_largest_by_disk_size(taskagent_dsn: str) -> None:
    from taskagent_backup.snapshot.catalog import discover_tables
    from taskagent_backup.snapshot.parallel import TableQueue

    connection = await connect_to(taskagent_dsn)
    try:
        tables = await discover_tables(connection, ["public"], ["*"], [])
    finally:
        await connection.close()

    queue = TableQueue(tables)
    first = queue.take_largest()
    assert first is not None
    assert tables[first].size_bytes == max(table.size_bytes for table in tables)
    assert tables[first].size_bytes > 0
    queue.close_unused()
