"""Retention rules against real backup files in a directory."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import structlog

from taskagent_backup.catalog import scan_directory
from taskagent_backup.retention import apply_retention, plan_retention
from taskagent_backup.settings import RetentionSettings
from tests.catalog.backup_files import at, touch_now, truncate, write_backup

DEFAULT = RetentionSettings()


def daily_series(directory: Path, first: datetime, days: int) -> list[Path]:
    return [write_backup(directory, "daily", first + timedelta(days=day)) for day in range(days)]


def names(paths: list[Path]) -> set[str]:
    return {path.name for path in paths}


def remaining(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir() if path.is_file()}


def test_daily_older_than_window_deleted(tmp_path: Path) -> None:
    backups = daily_series(tmp_path, at("2026-03-01 02:00"), 10)

    result = apply_retention(tmp_path, DEFAULT)

    # Day 10 is the newest; days 3..10 are at most 7 days older.
    assert names([deletion.entry.path for deletion in result.deletions]) == names(backups[:2])
    assert remaining(tmp_path) >= names(backups[2:])
    assert not (names(backups[:2]) & remaining(tmp_path))


def test_deletion_logged_with_file_and_rule(tmp_path: Path) -> None:
    backups = daily_series(tmp_path, at("2026-03-01 02:00"), 9)

    with structlog.testing.capture_logs() as events:
        apply_retention(tmp_path, DEFAULT)

    deleted = [event for event in events if event["event"] == "backup_deleted"]
    assert [event["file"] for event in deleted] == [str(backups[0])]
    assert deleted[0]["rule"] == "retention.daily_days"
    assert deleted[0]["kind"] == "daily"
    assert "8.0 days" in deleted[0]["reason"]


def test_failed_runs_for_ten_days_keep_good_one(tmp_path: Path) -> None:
    good = write_backup(tmp_path, "daily", at("2026-03-01 02:00"))
    broken = [write_backup(tmp_path, "daily", at("2026-03-01 02:00") + timedelta(days=day))
              for day in range(1, 11)]
    for path in broken:
        truncate(path)

    result = apply_retention(tmp_path, DEFAULT)

    assert result.deletions == []
    assert good.exists()
    assert all(path.exists() for path in broken), "damaged files are left for the operator"
    assert {entry.name for entry in result.ignored} == names(broken)


def test_newest_good_survives_however_old(tmp_path: Path) -> None:
    oldest = write_backup(tmp_path, "daily", at("2020-01-01 02:00"))
    weekly = write_backup(tmp_path, "weekly", at("2020-01-06 01:00"))

    result = apply_retention(tmp_path, DEFAULT)

    assert result.deletions == []
    assert oldest.exists()
    assert weekly.exists()


def test_mtimes_reset_to_now_change_nothing(tmp_path: Path) -> None:
    backups = daily_series(tmp_path, at("2026-03-01 02:00"), 10)
    touch_now(tmp_path)

    result = apply_retention(tmp_path, DEFAULT)

    assert names([deletion.entry.path for deletion in result.deletions]) == names(backups[:2])
    entries = scan_directory(tmp_path)
    assert [entry.started_at for entry in entries] == [
        at("2026-03-03 02:00") + timedelta(days=day) for day in range(8)
    ]


def test_clock_five_years_ahead_keeps_window_count(tmp_path: Path) -> None:
    history = daily_series(tmp_path, at("2026-03-01 02:00"), 8)
    future = write_backup(tmp_path, "daily", at("2031-03-09 02:00"))

    result = apply_retention(tmp_path, DEFAULT, keep=[future.name])

    kept_daily = [entry for entry in result.kept if entry.kind == "daily"]
    assert len(kept_daily) == DEFAULT.daily_days
    assert future.exists()
    assert all(path.exists() for path in history[-(DEFAULT.daily_days - 1):])
    assert len(result.deletions) == 2


def test_clock_five_years_behind_deletes_nothing_new(tmp_path: Path) -> None:
    history = daily_series(tmp_path, at("2026-03-01 02:00"), 8)
    past = write_backup(tmp_path, "daily", at("2021-03-09 02:00"))

    result = apply_retention(tmp_path, DEFAULT, keep=[past.name])

    # Without the jump, day 1 of 8 is exactly 7 days old and kept too.
    assert result.deletions == []
    assert past.exists()
    assert all(path.exists() for path in history)


def test_clock_behind_next_run_deletes_only_stray(tmp_path: Path) -> None:
    history = daily_series(tmp_path, at("2026-03-01 02:00"), 8)
    first_past = write_backup(tmp_path, "daily", at("2021-03-09 02:00"))
    second_past = write_backup(tmp_path, "daily", at("2021-03-10 02:00"))

    result = apply_retention(tmp_path, DEFAULT, keep=[second_past.name])

    assert [deletion.entry.name for deletion in result.deletions] == [first_past.name]
    assert all(path.exists() for path in history)


def test_mixed_kinds_daily_rule_touches_only_daily(tmp_path: Path) -> None:
    start = at("2026-01-01 02:00")
    old_weekly = write_backup(tmp_path, "weekly", start)
    old_manual = write_backup(tmp_path, "manual", start)
    old_migration = write_backup(tmp_path, "pre-migration", start, label="add_status_column")
    old_daily = write_backup(tmp_path, "daily", start)
    recent_daily = daily_series(tmp_path, start + timedelta(days=54), 7)
    newest_weekly = write_backup(tmp_path, "weekly", start + timedelta(days=14))

    result = apply_retention(tmp_path, DEFAULT)

    assert [deletion.entry.name for deletion in result.deletions] == [old_daily.name]
    for path in (old_weekly, old_manual, old_migration, *recent_daily, newest_weekly):
        assert path.exists(), path.name


def test_few_dailies_kept_despite_age(tmp_path: Path) -> None:
    old_daily = write_backup(tmp_path, "daily", at("2026-01-01 02:00"))
    newest_daily = write_backup(tmp_path, "daily", at("2026-03-01 02:00"))

    result = apply_retention(tmp_path, DEFAULT)

    # Fewer dailies than daily_days: the age rule stops at that count.
    assert result.deletions == []
    assert old_daily.exists()
    assert newest_daily.exists()


def test_weekly_older_than_window_deleted(tmp_path: Path) -> None:
    weeklies = [write_backup(tmp_path, "weekly", at("2026-01-05 01:00") + timedelta(weeks=week))
                for week in range(7)]

    result = apply_retention(tmp_path, DEFAULT)

    assert {deletion.entry.name for deletion in result.deletions} == names(weeklies[:2])
    assert {deletion.rule for deletion in result.deletions} == {"retention.weekly_days"}


def test_foreign_files_never_deleted(tmp_path: Path) -> None:
    start = at("2026-01-01 02:00")
    daily_series(tmp_path, start + timedelta(days=30), 2)
    legacy = tmp_path / "daily_backup_20250101_020000.json"
    legacy.write_text('{"version": 1, "tables": {}}\n')
    other = [tmp_path / "notes.txt", tmp_path / "daily_backup.json", tmp_path / "db.sql.gz",
             tmp_path / "daily_backup_20250101_020000.json.bak"]
    for path in other:
        path.write_text("not a backup\n")

    result = apply_retention(tmp_path, RetentionSettings(daily_days=1))

    assert result.deletions == []
    assert legacy.exists()
    assert all(path.exists() for path in other)
    assert [entry.state for entry in result.ignored] == ["foreign"]


def test_manual_never_deleted_by_age(tmp_path: Path) -> None:
    manuals = [write_backup(tmp_path, "manual", at("2020-01-01 02:00") + timedelta(days=day * 90))
               for day in range(8)]

    result = apply_retention(tmp_path, RetentionSettings(daily_days=1, weekly_days=1))

    assert result.deletions == []
    assert all(path.exists() for path in manuals)


def test_pre_migration_kept_by_default(tmp_path: Path) -> None:
    migrations = [
        write_backup(tmp_path, "pre-migration", at("2024-01-01 10:00") + timedelta(days=day * 40),
                     label=f"migration_{day}")
        for day in range(5)
    ]

    result = apply_retention(tmp_path, DEFAULT)

    assert result.deletions == []
    assert all(path.exists() for path in migrations)


def test_pre_migration_count_rule_keeps_newest(tmp_path: Path) -> None:
    migrations = [
        write_backup(tmp_path, "pre-migration", at("2024-01-01 10:00") + timedelta(days=day),
                     label=f"migration_{day}")
        for day in range(5)
    ]

    result = apply_retention(tmp_path, RetentionSettings(pre_migration_keep=2))

    assert {deletion.entry.name for deletion in result.deletions} == names(migrations[:3])
    assert {deletion.rule for deletion in result.deletions} == {"retention.pre_migration_keep"}
    assert all(path.exists() for path in migrations[3:])


def test_monthly_keep_spares_newest_of_each_month(tmp_path: Path) -> None:
    # One daily per day from 2026-01-01 to 2026-04-10.
    backups = daily_series(tmp_path, at("2026-01-01 02:00"), 100)
    policy = RetentionSettings(monthly_keep=3)

    deleted = {deletion.entry.name for deletion in plan_retention(scan_directory(tmp_path), policy)}

    newest_of_month = {
        backups[30].name,  # 2026-01-31
        backups[58].name,  # 2026-02-28
        backups[89].name,  # 2026-03-31
    }
    assert backups[30].name in deleted, "January is outside the latest three months"
    assert not (newest_of_month - {backups[30].name}) & deleted
    assert backups[57].name in deleted


def test_damaged_newer_backup_does_not_age_out_good(tmp_path: Path) -> None:
    good = daily_series(tmp_path, at("2026-03-01 02:00"), 3)
    late = write_backup(tmp_path, "daily", at("2026-03-30 02:00"))
    truncate(late)

    result = apply_retention(tmp_path, DEFAULT)

    assert result.deletions == []
    assert all(path.exists() for path in good)


def test_failed_verify_not_counted_as_good(tmp_path: Path) -> None:
    from taskagent_backup.checks import record_check

    older = daily_series(tmp_path, at("2026-03-01 02:00"), 9)
    newest = write_backup(tmp_path, "daily", at("2026-03-20 02:00"))
    record_check(newest, "verify", ok=False, detail="checksum mismatch")

    result = apply_retention(tmp_path, DEFAULT)

    # The newest good daily is now 2026-03-09, so only 2026-03-01 is too old.
    assert [deletion.entry.name for deletion in result.deletions] == [older[0].name]
    assert newest.exists()


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    backups = daily_series(tmp_path, at("2026-03-01 02:00"), 10)

    result = apply_retention(tmp_path, DEFAULT, dry_run=True)

    assert len(result.deletions) == 2
    assert all(path.exists() for path in backups)
