"""Modes, row selection, dry-run errors and --create-schema checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskagent_backup.errors import RestoreError, UsageError
from taskagent_backup.restore.schema import policy_roles, prepare_schema_sql
from tests.conftest import NewDatabase
from tests.restore.helpers import back_up, execute, fetch_value, restore, table_texts

USER_ONE = "md5('user1')::uuid"
USER_TWO = "md5('user2')::uuid"


async def test_fail_on_conflict_names_existing_key(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    before = await table_texts(taskagent_dsn)

    with pytest.raises(RestoreError) as caught:
        await restore(path, taskagent_dsn, tables=["logs"], mode="fail-on-conflict")

    assert "table public.logs" in str(caught.value)
    assert "already exists" in str(caught.value)
    assert await table_texts(taskagent_dsn) == before


async def test_insert_missing_counts_existing_rows(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(taskagent_dsn, "DELETE FROM logs WHERE actual_minutes > 60")
    deleted = 300 - await fetch_value(taskagent_dsn, "SELECT count(*) FROM logs")

    result = await restore(path, taskagent_dsn, tables=["logs"], mode="insert-missing")

    outcome = result.tables[0]
    assert outcome.inserted == deleted
    assert outcome.conflicting == 300 - deleted


async def test_where_without_dependents_restores_one_table(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(taskagent_dsn, f"DELETE FROM schedules WHERE user_id = {USER_ONE}")

    result = await restore(path, taskagent_dsn, where={"schedules": f"user_id = {USER_ONE}"})

    assert [outcome.table for outcome in result.tables] == ["public.schedules"]
    assert result.tables[0].selected == 7
    assert result.tables[0].inserted == 7


async def test_where_invalid_condition_names_table(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, where={"projects": "no_such_column = 1"})

    assert "--where for table public.projects: the condition failed" in str(caught.value)
    assert "no_such_column" in str(caught.value)


async def test_unknown_table_name_rejected(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, tables=["taks"])

    assert "--tables taks: no table of this name is in the backup" in str(caught.value)


async def test_dry_run_reports_error_per_table(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        """
        DELETE FROM logs WHERE actual_minutes >= 100;
        ALTER TABLE logs ADD CONSTRAINT logs_short CHECK (actual_minutes < 100);
    """,
    )

    result = await restore(path, taskagent_dsn, dry_run=True)

    errors = {outcome.table: outcome.error for outcome in result.tables if outcome.error}
    assert list(errors) == ["public.logs"]
    assert "logs_short" in errors["public.logs"]
    tasks = next(outcome for outcome in result.tables if outcome.table == "public.tasks")
    assert tasks.inserted == 300


async def test_create_schema_into_nonempty_rejected(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(RestoreError) as caught:
        await restore(path, taskagent_dsn, create_schema=True)

    assert "--create-schema needs an empty database" in str(caught.value)


async def test_create_schema_without_embedded_rejected(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path, backup={"embed_schema": False})
    empty = await new_database("empty")

    with pytest.raises(RestoreError) as caught:
        await restore(path, empty, create_schema=True)

    assert "the backup has no embedded schema" in str(caught.value)


def test_prepare_schema_removes_restrict_lines() -> None:
    sql = "\\restrict abc123\nCREATE SCHEMA public;\nCREATE TABLE t ();\n\\unrestrict abc123\n"

    prepared = prepare_schema_sql(sql)

    assert "restrict" not in prepared
    assert "CREATE SCHEMA IF NOT EXISTS public;" in prepared


def test_prepare_schema_other_meta_command_rejected() -> None:
    with pytest.raises(RestoreError) as caught:
        prepare_schema_sql("\\connect other\nCREATE TABLE t ();\n")

    assert "\\\\connect" in str(caught.value)


def test_policy_roles_found() -> None:
    sql = (
        "CREATE POLICY p ON public.users TO authenticated USING ((id = auth.uid()));\n"
        'CREATE POLICY q ON public.logs TO "Admins", PUBLIC\n  WITH CHECK (true);\n'
    )

    assert policy_roles(sql) == {"authenticated", "Admins"}


async def test_replace_with_where_rejected(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, where={"projects": "true"}, mode="replace")

    assert "--mode replace empties whole tables" in str(caught.value)


async def test_restore_as_non_owner_explains_privilege(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'restore_not_owner') THEN
                CREATE ROLE restore_not_owner LOGIN;
            END IF;
        END $$;
        GRANT USAGE ON SCHEMA auth TO restore_not_owner;
        GRANT ALL ON ALL TABLES IN SCHEMA public, auth TO restore_not_owner;
    """,
    )
    not_owner = taskagent_dsn.replace("postgres@", "restore_not_owner@")

    with pytest.raises(RestoreError) as caught:
        await restore(path, not_owner)

    assert "needs ownership of the restored tables" in str(caught.value)


async def test_where_same_table_twice_restores_both(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(taskagent_dsn, f"DELETE FROM schedules WHERE user_id IN ({USER_ONE}, {USER_TWO})")

    result = await restore(
        path,
        taskagent_dsn,
        where={"schedules": f"user_id = {USER_ONE}", "public.schedules": f"user_id = {USER_TWO}"},
    )

    assert [outcome.table for outcome in result.tables] == ["public.schedules"]
    assert result.tables[0].selected == 14
    assert result.tables[0].inserted == 14


async def test_bare_name_in_two_schemas_rejected(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    before = await table_texts(taskagent_dsn)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, tables=["users"])

    message = str(caught.value)
    assert "--tables users: this name matches tables in several schemas" in message
    assert "(auth.users, public.users)" in message
    assert caught.value.exit_code == 64
    assert await table_texts(taskagent_dsn) == before


async def test_qualified_name_selects_one_schema(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    result = await restore(path, taskagent_dsn, tables=["auth.users"], mode="insert-missing")

    assert [outcome.table for outcome in result.tables] == ["auth.users"]


async def test_unknown_table_lists_backup_tables(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, tables=["taskz"])

    assert "the backup contains these tables: auth.users, public.api_usage_logs" in str(
        caught.value
    )
    assert "does not fit the target database" not in str(caught.value)


async def test_where_wrong_column_names_user_table(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, where={"projects": "ownerid = 'x'"})

    message = str(caught.value)
    assert 'the column "projects.owner_id"' in message
    assert "backup_rows" not in message
    assert "taskagent_restore_" not in message
    assert "uses the column names" in message


async def test_where_type_error_has_no_column_hint(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(UsageError) as caught:
        await restore(path, taskagent_dsn, where={"projects": "owner_id = 'x'"})

    message = str(caught.value)
    assert 'invalid input syntax for type uuid: "x"' in message
    assert "column names" not in message


async def test_fail_on_conflict_prints_detail_once(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    with pytest.raises(RestoreError) as caught:
        await restore(path, taskagent_dsn, tables=["projects"], mode="fail-on-conflict")

    message = str(caught.value)
    assert message.count("already exists") == 1
    assert "DETAIL" not in message
    assert "(constraint projects_pkey); Key (id)=(" in message


async def test_missing_tables_suggest_create_schema(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    target = await new_database("no_schema")

    with pytest.raises(RestoreError) as caught:
        await restore(path, target)

    message = str(caught.value)
    assert "14 of 14 tables are missing in the target" in message
    assert "with --create-schema" in message
