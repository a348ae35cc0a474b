"""The daemon in-process against a real PostgreSQL: start, missed runs, reload, stop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import time_machine
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

from taskagent_backup.daemon import service
from taskagent_backup.daemon.missed import find_missed_runs, newest_good_backup_times
from taskagent_backup.daemon.notify import Notifier
from taskagent_backup.daemon.schedule import build_schedules
from taskagent_backup.daemon.service import BackupDaemon
from taskagent_backup.naming import parse_backup_file_name
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import ScheduleSettings, load_settings
from tests.conftest import connect_to, make_settings
from tests.daemon.conftest import NotifySocket

DOWN_DSN = "postgresql://postgres@/nodb?host=/nonexistent&port=5432"
WAIT_SECONDS = 30.0


async def _wait_for(condition: Any, description: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {description}")
        await asyncio.sleep(0.02)


def _write_config(path: Path, dsn: str, directory: Path, daily: str) -> None:
    path.write_text(
        f'[database]\ndsn = "{dsn}"\nschemas = ["public", "auth"]\n'
        f'[backup]\ndirectory = "{directory}"\n'
        f'[schedule]\ntimezone = "UTC"\ndaily = "{daily}"\n'
    )


def _backup_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if parse_backup_file_name(p.name))


def _backup_kinds(directory: Path) -> list[str]:
    names = [parse_backup_file_name(p.name) for p in directory.iterdir()]
    return sorted(name.kind for name in names if name is not None)


async def test_serve_database_down_ready_and_clean_stop(
    tmp_path: Path, path_notify_socket: NotifySocket
) -> None:
    settings = make_settings(DOWN_DSN, tmp_path, schedule={"timezone": "UTC"})
    daemon = BackupDaemon(settings, None, Notifier(path_notify_socket.name))

    with structlog.testing.capture_logs() as events:
        serving = asyncio.create_task(daemon.serve())
        ready = await asyncio.to_thread(path_notify_socket.receive)
        await _wait_for(lambda: "daily" in daemon.outcomes and "weekly" in daemon.outcomes,
                        "both catch-up runs to fail")
        daemon.request_stop()
        exit_code = await serving

    assert ready == "READY=1"
    assert exit_code == 0
    assert not daemon.outcomes["daily"].ok
    names = [event["event"] for event in events]
    assert names.count("backup_failed") == 2
    # Within retry_seconds of 02:00 UTC the next regular run replaces the retry.
    retries = names.count("backup_retry_scheduled") + names.count("backup_retry_not_needed")
    assert retries == 2
    assert "STOPPING=1" in path_notify_socket.drain()


async def test_serve_stop_during_backup_leaves_no_file(
    tmp_path: Path, taskagent_dsn: str, path_notify_socket: NotifySocket
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, schedule={"timezone": "UTC"})
    daemon = BackupDaemon(settings, None, Notifier(path_notify_socket.name))
    blocker = await connect_to(taskagent_dsn)
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE")
    try:
        serving = asyncio.create_task(daemon.serve())
        await _wait_for(lambda: any(tmp_path.glob(".*.partial")), "a backup in progress")
        daemon.request_stop()
        exit_code = await asyncio.wait_for(serving, WAIT_SECONDS)
    finally:
        await transaction.rollback()
        await blocker.close()

    assert exit_code == 0
    assert list(tmp_path.glob(".*.partial")) == []
    assert _backup_files(tmp_path) == []
    messages = path_notify_socket.drain()
    assert any(message.startswith("EXTEND_TIMEOUT_USEC=") for message in messages)
    assert "STOPPING=1" in messages


async def test_catch_up_recent_backup_only_missing_kind_run(
    tmp_path: Path, taskagent_dsn: str, path_notify_socket: NotifySocket
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, schedule={"timezone": "UTC"})
    await run_once(settings, "daily")
    daemon = BackupDaemon(settings, None, Notifier(path_notify_socket.name))

    serving = asyncio.create_task(daemon.serve())
    await _wait_for(lambda: "weekly" in daemon.outcomes, "the weekly catch-up run")
    daemon.request_stop()
    await serving

    assert "daily" not in daemon.outcomes
    assert daemon.outcomes["weekly"].ok
    assert _backup_kinds(tmp_path) == ["daily", "weekly"]


async def test_newest_good_backup_times_from_file_names(
    tmp_path: Path, taskagent_dsn: str
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path)
    result = await run_once(settings, "daily")
    (tmp_path / "weekly_backup_20991231_000000.json").write_text("not a backup\n")

    newest = newest_good_backup_times(tmp_path, ["daily", "weekly"])

    assert newest["daily"] == result.started_at.replace(microsecond=0)
    assert newest["weekly"] is None


def test_find_missed_runs_old_backup_missed() -> None:
    schedules = build_schedules(ScheduleSettings(timezone="Europe/Berlin"))
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # a Friday
    newest = {
        "daily": datetime(2026, 12, 3, 1, 0, 5, tzinfo=UTC),  # yesterday 02:00 Berlin
        "weekly": datetime(2026, 11, 30, 0, 0, 7, tzinfo=UTC),  # Monday 01:00 Berlin
    }

    missed = find_missed_runs(schedules, newest, now)

    assert [run.kind for run in missed] == ["daily"]
    assert missed[0].scheduled_for.astimezone(UTC) == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def test_find_missed_runs_no_backup_missed() -> None:
    schedules = build_schedules(ScheduleSettings(timezone="UTC"))

    missed = find_missed_runs(schedules, {}, datetime(2026, 12, 4, 9, 0, tzinfo=UTC))

    assert [run.kind for run in missed] == ["daily", "weekly"]
    assert missed[0].newest_backup_at is None


async def test_reload_valid_config_schedule_applied(
    tmp_path: Path, path_notify_socket: NotifySocket
) -> None:
    config = tmp_path / "config.toml"
    _write_config(config, DOWN_DSN, tmp_path, "0 2 * * *")
    daemon = BackupDaemon(load_settings(config), config, Notifier(path_notify_socket.name))
    daemon._start_scheduler()
    try:
        _write_config(config, DOWN_DSN, tmp_path, "17 3 * * *")
        await daemon.reload()
        next_daily = daemon.next_run_times()["daily"]
    finally:
        daemon.scheduler.shutdown(wait=False)

    messages = path_notify_socket.drain()
    reloading = messages[0].split("\n")
    assert reloading[0] == "RELOADING=1"
    assert reloading[1].startswith("MONOTONIC_USEC=")
    assert messages[1] == "READY=1"
    assert messages[2].startswith("STATUS=")
    assert "03:17" in messages[2]
    assert next_daily is not None
    assert (next_daily.hour, next_daily.minute) == (3, 17)
    assert daemon.problem is None


async def test_reload_invalid_config_old_schedule_kept(
    tmp_path: Path, path_notify_socket: NotifySocket
) -> None:
    config = tmp_path / "config.toml"
    _write_config(config, DOWN_DSN, tmp_path, "0 2 * * *")
    daemon = BackupDaemon(load_settings(config), config, Notifier(path_notify_socket.name))
    daemon._start_scheduler()
    try:
        _write_config(config, DOWN_DSN, tmp_path, "99 99 * * *")
        with structlog.testing.capture_logs() as events:
            await daemon.reload()
        next_daily = daemon.next_run_times()["daily"]
    finally:
        daemon.scheduler.shutdown(wait=False)

    messages = path_notify_socket.drain()
    assert messages[1] == "READY=1"
    assert "configuration reload failed" in messages[2]
    assert "schedule.daily" in messages[2]
    assert next_daily is not None
    assert (next_daily.hour, next_daily.minute) == (2, 0)
    assert [event["event"] for event in events if event["log_level"] == "error"] == [
        "config_reload_failed"
    ]


async def test_job_missed_event_warns_how_late(
    tmp_path: Path, path_notify_socket: NotifySocket
) -> None:
    settings = make_settings(DOWN_DSN, tmp_path)
    daemon = BackupDaemon(settings, None, Notifier(path_notify_socket.name))
    scheduled = datetime.now(UTC) - timedelta(hours=3)

    with structlog.testing.capture_logs() as events:
        daemon._on_job_event(JobExecutionEvent(EVENT_JOB_MISSED, "daily", "default", scheduled))
        await asyncio.gather(*daemon._helper_tasks, return_exceptions=True)
        await asyncio.gather(*daemon._backup_tasks, return_exceptions=True)

    missed = [event for event in events if event["event"] == "scheduled_run_missed"]
    assert len(missed) == 1
    assert missed[0]["log_level"] == "warning"
    assert 3 * 3600 <= missed[0]["late_seconds"] <= 3 * 3600 + 60


async def test_watch_clock_jump_detected_catch_up_started(
    tmp_path: Path, path_notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CLOCK_CHECK_SECONDS", 0.05)
    settings = make_settings(DOWN_DSN, tmp_path, schedule={"timezone": "UTC"})
    daemon = BackupDaemon(settings, None, Notifier(path_notify_socket.name))
    daemon._start_scheduler()
    watcher = asyncio.create_task(daemon._watch_clock())
    try:
        with structlog.testing.capture_logs() as events:
            await asyncio.sleep(0.02)
            # time-machine moves the wall clock only; asyncio and time.monotonic keep running.
            with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
                await _wait_for(lambda: "daily" in daemon.outcomes, "the catch-up run")
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, *daemon._backup_tasks, return_exceptions=True)
        daemon.scheduler.shutdown(wait=False)

    jumps = [event for event in events if event["event"] == "clock_jump_detected"]
    assert len(jumps) >= 1
    assert jumps[0]["seconds"] >= 7000
    assert any(event["event"] == "missed_run_catch_up" for event in events)
