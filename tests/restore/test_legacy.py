"""Backups of the old TaskAgent script restore into the TaskAgent schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from taskagent_backup.demo.sample_data import schema_sql
from taskagent_backup.errors import BackupFileError, RestoreError
from tests.conftest import FIXTURES, NewDatabase, connect_to
from tests.restore.helpers import execute, fetch_value, restore

LEGACY_V1 = FIXTURES / "legacy-backup-v1.json"


async def taskagent_schema(new_database: NewDatabase) -> str:
    """Return the DSN of a database with the empty TaskAgent schema."""
    dsn = await new_database("legacy")
    await execute(dsn, schema_sql())
    return dsn


async def stored_text(dsn: str, table: str, column: str, row_id: str) -> str | None:
    """Return the column as the old script wrote it: timestamps as naive UTC text."""
    connection = await connect_to(dsn)
    try:
        source = f"FROM public.{table} WHERE id = $1::uuid"
        kind = await connection.fetchval(f'SELECT pg_typeof("{column}")::text {source}', row_id)
        expression = f'"{column}"::text'
        if kind == "timestamp with time zone":
            # The old script wrote six fraction digits; ::text drops trailing zeros.
            expression = f"""to_char("{column}" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"""
        return await connection.fetchval(f"SELECT {expression} {source}", row_id)
    finally:
        await connection.close()


async def assert_rows_equal(dsn: str, document: dict[str, Any]) -> None:
    """Check every value of every legacy row against the database."""
    for table, rows in document.items():
        if table == "metadata":
            continue
        assert await fetch_value(dsn, f"SELECT count(*) FROM public.{table}") == len(rows)
        for row in rows:
            for column, value in row.items():
                stored = await stored_text(dsn, table, column, row["id"])
                assert stored == value, f"{table}.{column} of {row['id']}"


async def test_legacy_v1_restores_exact_rows(new_database: NewDatabase) -> None:
    target = await taskagent_schema(new_database)

    result = await restore(LEGACY_V1, target, create_missing_auth_users=True)

    assert result.inserted == 7
    await assert_rows_equal(target, orjson.loads(LEGACY_V1.read_bytes()))
    assert await fetch_value(target, "SELECT count(*) FROM auth.users") == 1
    assert await fetch_value(target, "SELECT status FROM goals") == "pending"


async def test_legacy_without_auth_users_fails_naming_key(new_database: NewDatabase) -> None:
    target = await taskagent_schema(new_database)

    with pytest.raises(RestoreError) as caught:
        await restore(LEGACY_V1, target)

    assert "public.users" in str(caught.value)
    assert "fe5e0881-b429-4bbb-9dd2-b593a30254d4" in str(caught.value)
    assert await fetch_value(target, "SELECT count(*) FROM projects") == 0


async def test_legacy_v2_more_tables_restores(new_database: NewDatabase, tmp_path: Path) -> None:
    document = orjson.loads(LEGACY_V1.read_bytes())
    user_id = document["users"][0]["id"]
    document["metadata"]["version"] = "2.0"
    document["schedules"] = [
        {
            "id": "7d1d3f3c-0b1c-4a39-9c51-4a8f9a0e5b11",
            "user_id": user_id,
            "date": "2025-08-15",
            "plan_json": {"blocks": [{"start": "09:00", "title": "朝"}]},
            "created_at": "2025-08-14 15:01:00.000001",
            "updated_at": "2025-08-14 15:01:00.000002",
        }
    ]
    path = tmp_path / "legacy-v2.json"
    path.write_bytes(orjson.dumps(document))
    target = await taskagent_schema(new_database)

    await restore(path, target, create_missing_auth_users=True)

    plan = await fetch_value(target, "SELECT plan_json::text FROM schedules")
    assert plan == '{"blocks": [{"start": "09:00", "title": "朝"}]}'
    document["schedules"][0].pop("plan_json")
    await assert_rows_equal(target, document)


async def test_legacy_unknown_version_rejected(new_database: NewDatabase, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(b'{"users": [], "metadata": {"version": "9.0"}}')
    target = await taskagent_schema(new_database)

    with pytest.raises(BackupFileError) as caught:
        await restore(path, target)

    assert "'9.0'" in str(caught.value)


async def test_legacy_without_auth_users_suggests_option(new_database: NewDatabase) -> None:
    target = await taskagent_schema(new_database)

    with pytest.raises(RestoreError) as caught:
        await restore(LEGACY_V1, target)

    message = str(caught.value)
    assert "referencing auth.users" in message
    assert "--create-missing-auth-users" in message
    assert "DETAIL" not in message
    assert message.count("is not present in table") == 1


async def test_legacy_without_auth_users_dry_run_suggests_option(
    new_database: NewDatabase,
) -> None:
    target = await taskagent_schema(new_database)

    result = await restore(LEGACY_V1, target, dry_run=True)

    errors = [outcome.error for outcome in result.tables if outcome.error]
    assert len(errors) == 1
    assert "--create-missing-auth-users" in errors[0]


async def test_legacy_empty_tables_restore_as_nothing(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    document = orjson.loads(LEGACY_V1.read_bytes())
    document["goals"] = []
    document["tasks"] = []
    path = tmp_path / "legacy-empty-tables.json"
    path.write_bytes(orjson.dumps(document))
    target = await taskagent_schema(new_database)

    result = await restore(path, target, create_missing_auth_users=True)

    outcomes = {outcome.table: outcome for outcome in result.tables}
    assert outcomes["public.goals"].inserted == 0
    assert outcomes["public.tasks"].inserted == 0
    assert outcomes["public.projects"].inserted == 1
    assert await fetch_value(target, "SELECT count(*) FROM goals") == 0
    assert await fetch_value(target, "SELECT count(*) FROM tasks") == 0


async def test_legacy_into_database_without_schema_explains(
    new_database: NewDatabase,
) -> None:
    target = await new_database("legacy_no_schema")

    with pytest.raises(RestoreError) as caught:
        await restore(LEGACY_V1, target)

    message = str(caught.value)
    assert "public.users: table does not exist in the target database" in message
    assert "4 of 4 tables are missing in the target" in message
    assert "this backup embeds no schema" in message
