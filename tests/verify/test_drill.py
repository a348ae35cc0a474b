"""Restore drills into a scratch database, with the outcome recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskagent_backup.checks import latest_checks
from taskagent_backup.drill import DRILL_DATABASE_PREFIX, drill_backup
from taskagent_backup.errors import DatabaseError
from taskagent_backup.pgserver import LocalServer
from tests.conftest import connect_to, make_settings
from tests.restore.helpers import back_up, execute

LEFTOVER_QUERY = "SELECT count(*) FROM pg_database WHERE datname LIKE $1"


async def leftover_databases(pg_server: LocalServer) -> int:
    """Return how many scratch databases exist on the server."""
    connection = await connect_to(pg_server.dsn())
    try:
        return await connection.fetchval(LEFTOVER_QUERY, DRILL_DATABASE_PREFIX + "%")
    finally:
        await connection.close()


async def test_drill_good_backup_matches_and_records(
    taskagent_dsn: str, tmp_path: Path, pg_server: LocalServer
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    result = await drill_backup(make_settings(taskagent_dsn, tmp_path), path)

    assert result.ok, result.detail
    assert result.tables == 14
    assert result.rows == 897
    assert latest_checks(tmp_path)[(path.name, "drill")].ok
    assert await leftover_databases(pg_server) == 0


async def test_drill_damaged_backup_fails_and_records(
    taskagent_dsn: str, tmp_path: Path, pg_server: LocalServer
) -> None:
    path = await back_up(taskagent_dsn, tmp_path, backup={"compression": "none"})
    path.write_bytes(path.read_bytes().replace(b"user2@example.com", b"userX@example.com", 1))

    result = await drill_backup(make_settings(taskagent_dsn, tmp_path), path)

    assert not result.ok
    assert "SHA-256" in result.detail
    record = latest_checks(tmp_path)[(path.name, "drill")]
    assert not record.ok
    assert await leftover_databases(pg_server) == 0


async def test_drill_without_createdb_raises_clear_error(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drill_without_createdb') THEN
                CREATE ROLE drill_without_createdb LOGIN;
            END IF;
        END $$;
    """,
    )
    settings = make_settings(
        taskagent_dsn.replace("postgres@", "drill_without_createdb@"), tmp_path
    )

    with pytest.raises(DatabaseError) as caught:
        await drill_backup(settings, path)

    assert "lacks CREATEDB" in str(caught.value)
    assert (path.name, "drill") not in latest_checks(tmp_path)


async def test_drill_icu_database_keeps_key_order(pg_server: LocalServer, tmp_path: Path) -> None:
    admin = await connect_to(pg_server.dsn())
    try:
        await admin.execute(
            "CREATE DATABASE drill_icu_source TEMPLATE template0 "
            "LOCALE_PROVIDER icu ICU_LOCALE 'und'"
        )
    finally:
        await admin.close()
    dsn = pg_server.dsn("drill_icu_source")
    try:
        await execute(
            dsn,
            """
            CREATE TABLE words (word text PRIMARY KEY);
            INSERT INTO words VALUES ('a'), ('B'), ('c'), ('D'), ('_x');
        """,
        )
        path = await back_up(dsn, tmp_path, database={"schemas": ["public"]})

        result = await drill_backup(make_settings(dsn, tmp_path), path)

        assert result.ok, result.detail
    finally:
        admin = await connect_to(pg_server.dsn())
        try:
            await admin.execute("DROP DATABASE drill_icu_source WITH (FORCE)")
        finally:
            await admin.close()
