"""Watchdog pings: interval from the environment, withheld when the scheduler is unhealthy."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from taskagent_backup.daemon.notify import Notifier
from taskagent_backup.daemon.watchdog import (
    TEST_STOP_FILE_VARIABLE,
    ping_while_healthy,
    scheduler_problem,
    watchdog_interval,
)
from tests.daemon.conftest import NotifySocket


async def _noop() -> None:
    return None


def test_watchdog_interval_half_of_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    assert watchdog_interval() == 30.0


def test_watchdog_interval_other_pid_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")

    assert watchdog_interval() is None


def test_watchdog_interval_unset_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)

    assert watchdog_interval() is None


async def test_scheduler_problem_stopped_scheduler_reported() -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")

    assert scheduler_problem(scheduler) == "scheduler is not running"


async def test_scheduler_problem_overdue_job_reported() -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(_noop, "interval", hours=1, id="daily")
    scheduler.start()
    try:
        assert scheduler_problem(scheduler) is None
        later = datetime.now(UTC) + timedelta(hours=2)
        problem = scheduler_problem(scheduler, now=later)
    finally:
        scheduler.shutdown(wait=False)

    assert problem is not None
    assert "daily is overdue" in problem


async def test_ping_while_healthy_stop_file_silences(
    path_notify_socket: NotifySocket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_file = tmp_path / "stop"
    monkeypatch.setenv(TEST_STOP_FILE_VARIABLE, str(stop_file))
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(_noop, "interval", hours=1)
    scheduler.start()
    pinger = asyncio.create_task(
        ping_while_healthy(Notifier(path_notify_socket.name), scheduler, 0.05)
    )
    try:
        await asyncio.sleep(0.2)
        before_stop = path_notify_socket.drain()
        stop_file.touch()
        await asyncio.sleep(0.1)
        path_notify_socket.drain()
        await asyncio.sleep(0.3)
        after_stop = path_notify_socket.drain()
    finally:
        pinger.cancel()
        scheduler.shutdown(wait=False)

    assert before_stop
    assert set(before_stop) == {"WATCHDOG=1"}
    assert after_stop == []
