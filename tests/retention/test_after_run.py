"""Retention as run by ``run_once`` and by ``taskagent-backup prune``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
import time_machine

from taskagent_backup import run_once as run_once_module
from taskagent_backup.cli.main import main
from taskagent_backup.errors import DatabaseError
from taskagent_backup.run_once import run_once
from tests.catalog.backup_files import touch_now, write_backup
from tests.conftest import make_settings


def old_dailies(directory: Path, count: int) -> list[Path]:
    """Write ``count`` dailies ending 30 days before now, one per day."""
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    return [write_backup(directory, "daily", last - timedelta(days=day)) for day in range(count)]


async def test_run_once_prunes_after_success(taskagent_dsn: str, tmp_path: Path) -> None:
    old = old_dailies(tmp_path, 8)
    manual = write_backup(tmp_path, "manual", datetime(2020, 1, 1, tzinfo=UTC))
    settings = make_settings(taskagent_dsn, tmp_path)

    result = await run_once(settings, "daily")

    assert result.path.exists()
    # The new daily is 30+ days newer than all old ones; the floor keeps 6 of them.
    assert sum(path.exists() for path in old) == settings.retention.daily_days - 1
    assert not old[-1].exists()
    assert manual.exists()


async def test_run_once_failure_deletes_nothing(tmp_path: Path) -> None:
    old = old_dailies(tmp_path, 10)
    newer = write_backup(tmp_path, "daily", datetime.now(UTC).replace(microsecond=0))
    touch_now(tmp_path)
    unreachable = "postgresql://app@/db?host=/nonexistent&port=5999"
    settings = make_settings(unreachable, tmp_path, backup={"free_space_reserve_mb": 0})

    with pytest.raises(DatabaseError):
        await run_once(settings, "daily")

    assert all(path.exists() for path in old)
    assert newer.exists()


async def test_pre_migration_run_kept_and_listed(
    taskagent_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path)
    result = await run_once(settings, "pre-migration", "add_status_column")
    old_dailies(tmp_path, 9)
    config = tmp_path / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{tmp_path}"\n')
    capsys.readouterr()

    assert main(["--config", str(config), "prune"]) == 0
    assert main(["--config", str(config), "list"]) == 0

    output = capsys.readouterr().out
    assert result.path.exists()
    assert result.path.name.startswith("pre-migration_backup_")
    assert result.path.name.endswith("_add_status_column.json.zst")
    assert "pre-migration (add_status_column)" in output


def test_prune_dry_run_prints_and_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = old_dailies(tmp_path, 9)
    config = tmp_path / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{tmp_path}"\n')

    exit_code = main(["--config", str(config), "prune", "--dry-run"])

    output = capsys.readouterr().out
    assert exit_code == 0
    assert f"would delete {old[-1].name}" in output
    assert "retention.daily_days = 7" in output
    assert all(path.exists() for path in old)


def test_prune_deletes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = old_dailies(tmp_path, 9)
    config = tmp_path / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{tmp_path}"\n')

    exit_code = main(["--config", str(config), "prune"])

    output = capsys.readouterr().out
    assert exit_code == 0
    assert f"deleted {old[-1].name}" in output
    assert not old[-1].exists()
    assert "1 deleted, 8 good backups kept" in output


async def test_ten_days_of_failures_then_success(taskagent_dsn: str, tmp_path: Path) -> None:
    good = await run_once(make_settings(taskagent_dsn, tmp_path), "daily")
    unreachable = make_settings("postgresql://app@/db?host=/nonexistent&port=5999", tmp_path,
                                backup={"free_space_reserve_mb": 0})

    for day in range(1, 11):
        with (
            time_machine.travel(good.started_at + timedelta(days=day)),
            pytest.raises(DatabaseError),
        ):
            await run_once(unreachable, "daily")
        assert good.path.exists(), f"day {day}"

    with time_machine.travel(good.started_at + timedelta(days=11)):
        latest = await run_once(make_settings(taskagent_dsn, tmp_path), "daily")

    assert latest.path.exists()
    assert good.path.exists(), "fewer than daily_days dailies: none is aged out"


async def test_retention_failure_keeps_backup_result(
    taskagent_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_retention(*arguments: object, **options: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(run_once_module, "apply_retention", failing_retention)

    with structlog.testing.capture_logs() as events:
        result = await run_once(make_settings(taskagent_dsn, tmp_path), "daily")

    assert result.path.exists()
    failures = [event for event in events if event["event"] == "retention_failed"]
    assert len(failures) == 1
    assert "Permission denied" in failures[0]["error"]
