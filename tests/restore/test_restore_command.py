"""The ``restore`` and ``verify`` commands, run as a person would run them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.conftest import NewDatabase
from tests.restore.helpers import back_up, execute, table_texts

COMMAND = str(Path(sys.executable).parent / "taskagent-backup")


async def run_command(*arguments: str) -> tuple[int, str, str]:
    """Run ``taskagent-backup`` with ``arguments``; return exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        COMMAND, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
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
