"""Restores of the real TaskAgent schema, checked row by row with ``row::text``."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskagent_backup.demo.sample_data import schema_sql
from taskagent_backup.errors import RestoreError
from tests.conftest import NewDatabase
from tests.restore.helpers import back_up, execute, fetch_value, restore, table_texts

USER_ONE = "md5('user1')::uuid"


async def test_full_restore_create_schema_equal_rows(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    empty = await new_database("empty")

    result = await restore(path, empty, create_schema=True)

    assert result.committed
    assert result.schema_created
    assert await table_texts(empty) == await table_texts(taskagent_dsn)


async def test_full_restore_existing_schema_equal_rows(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    target = await new_database("schema")
    await execute(target, schema_sql())

    result = await restore(path, target)

    assert result.inserted == sum(outcome.rows_in_backup for outcome in result.tables)
    assert await table_texts(target) == await table_texts(taskagent_dsn)


async def test_replace_database_with_other_data_equal_rows(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    expected = await table_texts(taskagent_dsn)
    await execute(
        taskagent_dsn,
        """
        DELETE FROM logs WHERE actual_minutes > 60;
        UPDATE tasks SET title = 'changed after the backup';
        INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'new@example.com');
        INSERT INTO users (id, email)
            SELECT id, email FROM auth.users WHERE email = 'new@example.com';
    """,
    )

    result = await restore(path, taskagent_dsn)

    assert result.mode == "replace"
    assert await table_texts(taskagent_dsn) == expected


async def test_one_table_restore_leaves_others(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    expected_logs = (await table_texts(taskagent_dsn))["public.logs"]
    await execute(taskagent_dsn, "DELETE FROM logs; UPDATE goals SET title = 'kept'")
    before = await table_texts(taskagent_dsn)

    result = await restore(path, taskagent_dsn, tables=["logs"])

    after = await table_texts(taskagent_dsn)
    assert [outcome.table for outcome in result.tables] == ["public.logs"]
    assert after["public.logs"] == expected_logs
    assert {k: v for k, v in after.items() if k != "public.logs"} == {
        k: v for k, v in before.items() if k != "public.logs"
    }


async def test_one_user_with_dependents_restores_deleted_rows(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    expected = await table_texts(taskagent_dsn)
    await execute(taskagent_dsn, f"DELETE FROM projects WHERE owner_id = {USER_ONE}")
    assert await fetch_value(taskagent_dsn, "SELECT count(*) FROM logs") < 1200

    result = await restore(
        path, taskagent_dsn, where={"projects": f"owner_id = {USER_ONE}"}, with_dependents=True
    )

    assert result.mode == "insert-missing"
    restored = {outcome.table: outcome.inserted for outcome in result.tables}
    assert restored["public.projects"] == 4
    assert restored["public.goals"] == 12
    assert restored["public.tasks"] == 60
    assert restored["public.logs"] == 60
    assert await table_texts(taskagent_dsn) == expected


async def test_check_added_after_backup_fails_and_leaves_target(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        """
        UPDATE tasks SET priority = 1 WHERE priority = 5;
        ALTER TABLE tasks ADD CONSTRAINT priority_below_five CHECK (priority < 5);
    """,
    )
    before = await table_texts(taskagent_dsn)

    with pytest.raises(RestoreError) as caught:
        await restore(path, taskagent_dsn)

    message = str(caught.value)
    assert "public.tasks" in message
    assert "priority_below_five" in message
    assert "Failing row contains" in message
    assert "the failing row has key (id)=(" in message
    assert await table_texts(taskagent_dsn) == before


async def test_dry_run_reports_and_changes_nothing(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(taskagent_dsn, "DELETE FROM logs WHERE actual_minutes > 60")
    before = await table_texts(taskagent_dsn)

    result = await restore(path, taskagent_dsn, dry_run=True)

    logs = next(outcome for outcome in result.tables if outcome.table == "public.logs")
    assert not result.committed
    assert logs.inserted == 300
    assert logs.replaced == len(before["public.logs"])
    assert await table_texts(taskagent_dsn) == before


async def test_replace_subset_referenced_from_outside_rejected(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(RestoreError) as caught:
        await restore(path, taskagent_dsn, tables=["tasks"])

    assert "public.logs" in str(caught.value)
    assert "public.task_dependencies" in str(caught.value)
