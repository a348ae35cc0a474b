"""Restore drills after scheduled backups."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskagent_backup.backup import run_backup
from taskagent_backup.checks import latest_checks
from taskagent_backup.daemon.drills import drill_after_backup, wants_drill
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("policy", "kind", "expected"),
    [
        ("off", "daily", False),
        ("every", "daily", True),
        ("every", "weekly", True),
        ("newest-daily", "daily", True),
        ("newest-daily", "weekly", False),
    ],
)
def test_wants_drill_policy_table(policy: str, kind: str, expected: bool) -> None:
    assert wants_drill(policy, kind) is expected


async def test_drill_after_daily_backup_records_success(
    taskagent_dsn: str, tmp_path: Path
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, schedule={"drill": "newest-daily"})
    result = await run_backup(settings, "daily")

    await drill_after_backup(settings, "daily", result)

    record = latest_checks(tmp_path)[(result.path.name, "drill")]
    assert record.ok, record.detail


async def test_drill_policy_off_records_nothing(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(taskagent_dsn, tmp_path)
    result = await run_backup(settings, "daily")

    await drill_after_backup(settings, "daily", result)

    assert (result.path.name, "drill") not in latest_checks(tmp_path)
