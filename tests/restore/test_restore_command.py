"""The ``restore`` and ``verify`` commands, run as a person would run them."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from taskagent_backup.cli.restore_command import parse_where, restore_target
from taskagent_backup.pgserver import LocalServer
from taskagent_backup.settings import DatabaseSettings
from tests.conftest import FIXTURES, NewDatabase, connect_to
from tests.restore.helpers import back_up, execute, table_texts

COMMAND = str(Path(sys.executable).parent / "taskagent-backup")


async def run_command(*arguments: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``taskagent-backup`` with ``arguments``; return exit code, stdout, stderr.

    ``env`` adds variables to the test process's environment.
    """
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    stdout, stderr = await process.communicate()
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_restore_command_dry_run_then_restore(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    target = await new_database("cli")

    code, out, _err = await run_command(
        "restore", str(path), "--target-dsn", target, "--create-schema", "--dry-run"
    )
    assert code == 0, out
    assert "public.tasks: would insert 300" in out
    assert "nothing was changed" in out

    code, out, err = await run_command(
        "restore", str(path), "--target-dsn", target, "--create-schema"
    )
    assert code == 0, err
    assert "restored 897 rows into 14 tables" in out
    assert await table_texts(target) == await table_texts(taskagent_dsn)
    assert '"event": "restore_finished"' in err


async def test_restore_command_failure_exit_code(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        "DELETE FROM logs WHERE actual_minutes >= 20;"
        "ALTER TABLE logs ADD CONSTRAINT short CHECK (actual_minutes < 20)",
    )

    code, _out, err = await run_command("restore", str(path), "--target-dsn", taskagent_dsn)

    assert code == 1
    assert "table public.logs" in err
    assert "short" in err


async def test_verify_command_exit_codes(taskagent_dsn: str, tmp_path: Path) -> None:
    good = await back_up(taskagent_dsn, tmp_path)
    bad = tmp_path / "daily_backup_20250101_020000.json.zst"
    bad.write_bytes(good.read_bytes()[:-100])

    code, out, _err = await run_command("verify", str(good))
    assert code == 0
    assert "every checksum matches" in out

    code, out, _err = await run_command("verify", str(good), str(bad))
    assert code == 65
    assert f"FAILED {bad}" in out


async def test_verify_restore_test_command_passes(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\ndsn = "{taskagent_dsn}"\nschemas = ["public", "auth"]\n'
        f'[backup]\ndirectory = "{tmp_path}"\n'
    )

    code, out, err = await run_command(
        "verify", "--config", str(config), "--restore-test", str(path)
    )

    assert code == 0, out + err
    assert "restored into a scratch database; 14 tables, 897 rows match the manifest" in out


async def test_restore_command_usage_errors_exit_64(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    restore = ("restore", str(path), "--target-dsn", taskagent_dsn)

    code, _out, err = await run_command(*restore, "--where", "projects")
    assert code == 64
    assert "--where 'projects': expected TABLE=CONDITION" in err
    assert "invalid configuration" not in err

    code, _out, err = await run_command(*restore, "--tables", "taskz")
    assert code == 64
    assert "--tables taskz: no table of this name is in the backup" in err
    assert "the backup contains these tables: auth.users" in err

    code, _out, err = await run_command(*restore, "--where", "projects=true", "--mode", "replace")
    assert code == 64
    assert "--mode replace empties whole tables" in err

    code, _out, err = await run_command(*restore, "--tables", "users")
    assert code == 64
    assert "(auth.users, public.users)" in err


async def test_restore_command_repeated_where_ors(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    users = ("md5('user1')::uuid", "md5('user2')::uuid")
    await execute(taskagent_dsn, f"DELETE FROM schedules WHERE user_id IN ({users[0]}, {users[1]})")

    code, out, err = await run_command(
        "restore", str(path), "--target-dsn", taskagent_dsn,
        "--where", f"schedules=user_id = {users[0]}",
        "--where", f"schedules=user_id = {users[1]}",
    )  # fmt: skip

    assert code == 0, err
    assert "public.schedules: inserted 14" in out


def test_parse_where_same_table_joins_with_or() -> None:
    conditions = parse_where(["projects=owner_id = 'U1'", "projects= owner_id = 'U2' "])

    assert conditions == {"projects": "(owner_id = 'U1') OR ( owner_id = 'U2' )"}


async def test_restore_command_connection_error_names_option() -> None:
    code, _out, err = await run_command(
        "restore",
        str(FIXTURES / "legacy-backup-v1.json"),
        "--target-dsn",
        "postgresql://nobody@127.0.0.1:1/none",
    )

    assert code == 69
    assert "the DSN given by --target-dsn" in err
    assert "[database]" not in err


def test_restore_target_same_login_uses_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n")
    database = DatabaseSettings(
        dsn="postgresql://app@db.example.com:5432/taskagent", password_file=secret
    )

    same, source = restore_target("postgresql://app@db.example.com/scratch", database)
    other, _source = restore_target("postgresql://admin@db.example.com/scratch", database)
    explicit, _source = restore_target("postgresql://app:typed@db.example.com/scratch", database)

    assert source == "--target-dsn"
    assert same.password == "from-the-file"
    assert other.password is None
    assert explicit.password == "typed"


def test_restore_target_pgpassword_wins_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n")
    database = DatabaseSettings(
        dsn="postgresql://app@db.example.com:5432/taskagent", password_file=secret
    )

    target, _source = restore_target("postgresql://app@db.example.com/scratch", database)

    assert target.password is None


PASSWORD_ROLE = "restore_password_user"
PASSWORD = "restore-test-password"


@pytest.fixture
async def password_role(pg_server: LocalServer) -> AsyncIterator[str]:
    """Create a role that must log in with a SCRAM password; return its name.

    Every other role keeps the server's trust authentication, because the
    role's pg_hba.conf line comes first only for this role.
    """
    admin = await connect_to(pg_server.dsn())
    try:
        hba_file = Path(await admin.fetchval("SHOW hba_file"))
        await admin.execute(
            f"DROP ROLE IF EXISTS {PASSWORD_ROLE}; "
            f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'"
        )
        original = hba_file.read_text()
        hba_file.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + original)
        await admin.execute("SELECT pg_reload_conf()")
        yield PASSWORD_ROLE
        hba_file.write_text(original)
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()


async def test_restore_command_reads_pgpassword_and_pgpassfile(
    new_database: NewDatabase, password_role: str, tmp_path: Path
) -> None:
    table = "CREATE TABLE notes (id integer PRIMARY KEY, body text)"
    source = await new_database("password_source")
    await execute(source, f"{table}; INSERT INTO notes VALUES (1, 'one'), (2, 'two')")
    path = await back_up(source, tmp_path, database={"schemas": ["public"]})
    target = await new_database("password_target")
    await execute(target, f"{table}; ALTER TABLE notes OWNER TO {password_role}")
    target_dsn = target.replace("postgres@", f"{password_role}@")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{password_role}:{PASSWORD}\n")
    passfile.chmod(0o600)
    restore = ("restore", str(path), "--target-dsn", target_dsn)

    code, _out, err = await run_command(*restore, env={"PGPASSFILE": str(tmp_path / "none")})
    assert code == 69, err
    assert "password authentication failed" in err

    code, out, err = await run_command(*restore, env={"PGPASSWORD": PASSWORD})
    assert code == 0, err
    assert "public.notes: inserted 2" in out

    code, out, err = await run_command(*restore, env={"PGPASSFILE": str(passfile)})
    assert code == 0, err
    assert "public.notes: inserted 2, replaced 2" in out


async def test_verify_restore_test_without_createdb_advice(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    await execute(
        taskagent_dsn,
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'verify_without_createdb') THEN
                CREATE ROLE verify_without_createdb LOGIN;
            END IF;
        END $$;
    """,
    )
    dsn = taskagent_dsn.replace("postgres@", "verify_without_createdb@")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\ndsn = "{dsn}"\n[backup]\ndirectory = "{tmp_path}"\n')

    code, out, _err = await run_command(
        "verify", "--config", str(config), "--restore-test", str(path)
    )

    assert code == 69
    assert "ALTER ROLE verify_without_createdb CREATEDB" in out
    assert 'for the daemon\'s scheduled drill set drill = "off" in [schedule]' in out
    assert "or turn the drill off" not in out


def test_restore_target_unreadable_credential_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    database = DatabaseSettings(
        dsn="postgresql://app@db.example.com:5432/taskagent", password_credential="db-password"
    )

    target, source = restore_target("postgresql://app@db.example.com/scratch", database)

    assert target.password is None
    assert source == "--target-dsn"
