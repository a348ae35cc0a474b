"""The backup engine against a real PostgreSQL server."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from taskagent_backup import backup as backup_module
from taskagent_backup.backup import run_backup
from taskagent_backup.errors import DatabaseError, RowSecurityError
from taskagent_backup.fileformat.reader import read_backup
from taskagent_backup.naming import parse_backup_file_name
from taskagent_backup.snapshot import parallel as parallel_module
from tests.conftest import FIXTURES, NewDatabase, connect_to, make_settings

TASKAGENT_TABLES = {
    "auth.users", "public.users", "public.projects", "public.goals", "public.tasks",
    "public.goal_dependencies", "public.task_dependencies", "public.schedules",
    "public.weekly_recurring_tasks", "public.weekly_schedules", "public.logs",
    "public.user_settings", "public.api_usage_logs", "public.schema_migrations",
}


def read_all(path: Path) -> tuple[dict[str, Any], dict[str, list[list[Any]]]]:
    """Return the header and every table's parsed rows, checking counts and hashes."""
    reader = read_backup(path)
    tables = {}
    for section in reader.tables():
        tables[section.qualified_name] = [orjson.loads(row) for row in reader.rows(section)]
    return reader.header, tables


def strict_document(path: Path) -> Any:
    """Parse the whole file with a strict JSON parser (no NaN or Infinity tokens)."""
    raw = path.read_bytes()
    if path.name.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)

    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(raw, parse_constant=reject)


async def table_text(dsn: str, table: str, order: str) -> list[list[str | None]]:
    connection = await connect_to(dsn)
    try:
        columns = await connection.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", table,
        )
        select = ", ".join(f'"{row["attname"]}"::text' for row in columns)
        rows = await connection.fetch(f"SELECT {select} FROM {table} ORDER BY {order}")
        return [list(row) for row in rows]
    finally:
        await connection.close()


async def test_backup_taskagent_writes_every_table(taskagent_dsn: str, tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    settings = make_settings(taskagent_dsn, directory)

    result = await run_backup(settings, "daily")

    header, tables = read_all(result.path)
    assert set(tables) == TASKAGENT_TABLES
    assert all(rows for rows in tables.values())
    assert result.rows == sum(len(rows) for rows in tables.values())
    assert header["kind"] == "daily"
    assert header["database"].startswith("taskagent_")
    parsed = parse_backup_file_name(result.path.name)
    assert parsed is not None
    assert parsed.kind == "daily"
    assert result.path.name.endswith(".json.zst")


async def test_backup_files_are_private(taskagent_dsn: str, tmp_path: Path) -> None:
    directory = tmp_path / "new" / "backups"
    settings = make_settings(taskagent_dsn, directory)

    result = await run_backup(settings, "manual")

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert [path.name for path in directory.iterdir()] == [result.path.name]


async def test_backup_rows_equal_column_text(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, backup={"compression": "none"})

    result = await run_backup(settings, "manual")

    _, tables = read_all(result.path)
    for name in ("public.tasks", "public.schedules", "public.weekly_schedules"):
        assert tables[name] == await table_text(taskagent_dsn, name, "id")


async def test_backup_every_type_is_exact_and_strict_json(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    dsn = await new_database("every_type")
    connection = await connect_to(dsn)
    await connection.execute((FIXTURES / "every_type.sql").read_text())
    await connection.close()
    settings = make_settings(dsn, tmp_path, database={"schemas": ["public"]})

    result = await run_backup(settings, "manual")

    _, tables = read_all(result.path)
    expected = await table_text(dsn, "public.every_type", "id")
    assert tables["public.every_type"] == expected
    assert expected[0][19] == '{"b": 1,  "a": [1, 2.50, 1e400], "a": "dup"}'
    assert expected[0][4] == "1.10"
    document = strict_document(result.path)
    assert document["format"] == "taskagent-backup"
    assert len(document["tables"]["public"]["every_type"]["rows"]) == 3


async def test_backup_ignores_rows_committed_during_run(
    taskagent_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await table_text(taskagent_dsn, "public.logs", "id")
    original_stream = backup_module.stream_table
    writes_done = False

    async def stream_after_concurrent_writes(connection: Any, table: Any, on_chunk: Any) -> None:
        nonlocal writes_done
        if not writes_done:
            writes_done = True
            writer = await connect_to(taskagent_dsn)
            try:
                await writer.execute(
                    "INSERT INTO logs (task_id, actual_minutes, comment) "
                    "SELECT id, 7, 'written during the backup' FROM tasks LIMIT 3;"
                    "DELETE FROM schema_migrations;"
                )
            finally:
                await writer.close()
        await original_stream(connection, table, on_chunk)

    monkeypatch.setattr(backup_module, "stream_table", stream_after_concurrent_writes)
    settings = make_settings(taskagent_dsn, tmp_path)

    result = await run_backup(settings, "manual")

    _, tables = read_all(result.path)
    assert writes_done
    assert tables["public.logs"] == before
    assert len(tables["public.schema_migrations"]) == 2
    assert len(await table_text(taskagent_dsn, "public.logs", "id")) == len(before) + 3


async def test_backup_role_limited_by_rls_fails_clearly(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    connection = await connect_to(taskagent_dsn)
    try:
        await connection.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'limited_reader') "
            "THEN CREATE ROLE limited_reader LOGIN; END IF; END $$;"
            "GRANT USAGE ON SCHEMA public, auth TO limited_reader;"
            "GRANT SELECT ON ALL TABLES IN SCHEMA public, auth TO limited_reader;"
        )
    finally:
        await connection.close()
    limited_dsn = taskagent_dsn.replace("postgresql://postgres@", "postgresql://limited_reader@")
    settings = make_settings(limited_dsn, tmp_path, backup={"embed_schema": False})

    with pytest.raises(RowSecurityError, match="row-level security") as raised:
        await run_backup(settings, "manual")

    assert "BYPASSRLS" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


async def test_backup_unreachable_server_leaves_no_file(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql://app:topsecret@/nowhere?host=/nonexistent-socket-dir&port=5999",
        tmp_path / "out",
    )

    with pytest.raises(DatabaseError, match="cannot connect") as raised:
        await run_backup(settings, "manual")

    assert "topsecret" not in str(raised.value)
    assert list((tmp_path / "out").iterdir()) == []


async def test_backup_table_patterns_select_tables(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(
        taskagent_dsn, tmp_path,
        database={"include_tables": ["task*", "public.goals"], "exclude_tables": ["task_dep*"]},
    )

    result = await run_backup(settings, "manual")

    _, tables = read_all(result.path)
    assert set(tables) == {"public.tasks", "public.goals"}


async def test_backup_embeds_schema_from_pg_dump(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(taskagent_dsn, tmp_path)

    result = await run_backup(settings, "manual")

    reader = read_backup(result.path)
    for section in reader.tables():
        for _row in reader.rows(section):
            pass
    schema = reader.trailer["schema"]
    assert schema["embedded"] is True
    assert "CREATE TABLE public.tasks" in schema["sql"]
    assert "CREATE POLICY" in schema["sql"]


@pytest.mark.parametrize("connections", [1, 2])
async def test_backup_connection_killed_midway_leaves_no_file(
    taskagent_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connections: int
) -> None:
    original_stream = backup_module.stream_table
    calls = 0

    async def stream_then_terminate(connection: Any, table: Any, on_chunk: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            killer = await connect_to(taskagent_dsn)
            try:
                await killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'taskagent-backup' AND pid <> pg_backend_pid()"
                )
            finally:
                await killer.close()
        await original_stream(connection, table, on_chunk)

    monkeypatch.setattr(backup_module, "stream_table", stream_then_terminate)
    monkeypatch.setattr(parallel_module, "stream_table", stream_then_terminate)
    settings = make_settings(
        taskagent_dsn, tmp_path, backup={"parallel_connections": connections}
    )

    with pytest.raises(DatabaseError, match="failed"):
        await run_backup(settings, "manual")

    assert [p.name for p in tmp_path.iterdir() if parse_backup_file_name(p.name)] == []
    assert list(tmp_path.glob(".*.partial")) == []


async def test_backups_in_same_second_both_written(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, backup={"embed_schema": False})

    first = await run_backup(settings, "manual")
    second = await run_backup(settings, "manual")

    assert first.path != second.path
    assert first.path.exists()
    assert second.path.exists()


async def test_schema_dump_missing_binary_not_embedded(
    taskagent_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskagent_backup import schema_dump

    missing = str(tmp_path / "no-such-pg_dump")
    monkeypatch.setattr(schema_dump, "find_pg_dump", lambda _major: (missing, "pg_dump 99"))
    settings = make_settings(taskagent_dsn, tmp_path / "out")

    result = await run_backup(settings, "manual")

    reader = read_backup(result.path)
    for section in reader.tables():
        for _row in reader.rows(section):
            pass
    assert reader.trailer["schema"]["embedded"] is False
    assert "cannot run" in reader.trailer["schema"]["reason"]
