"""Watchdog pings: ``WATCHDOG=1`` at half the interval systemd expects, while healthy.

The pings are sent from a task on the daemon's event loop, so a hung loop
stops them by itself.  Before each ping the scheduler is checked: it must be
running, and no job may be overdue by more than ``OVERDUE_TOLERANCE``,
because an overdue job means its wake-up timer died.  Without pings systemd
kills and restarts the service after ``WatchdogSec=``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from apscheduler.schedulers.base import STATE_RUNNING, BaseScheduler

from taskagent_backup.daemon.notify import Notifier

log = structlog.get_logger(__name__)

OVERDUE_TOLERANCE = timedelta(seconds=60)
# Test-only: while the file named here exists, no pings are sent, so the
# end-to-end test can watch systemd restart the service.  Never set it in
# production.
TEST_STOP_FILE_VARIABLE = "TASKAGENT_BACKUPD_TEST_WATCHDOG_STOP_FILE"
TEST_STOP_REASON = "test-only stop file exists"


def watchdog_interval() -> float | None:
    """Return the ping interval in seconds (half of ``WATCHDOG_USEC``), or ``None``.

    ``None`` when systemd expects no pings from this process: the variable
    is unset or invalid, or ``WATCHDOG_PID`` names another process.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


def scheduler_problem(scheduler: BaseScheduler, now: datetime | None = None) -> str | None:
    """Return why ``scheduler`` is unhealthy, or ``None`` when it is healthy."""
    if scheduler.state != STATE_RUNNING:
        return "scheduler is not running"
    current = now or datetime.now(UTC)
    for job in scheduler.get_jobs():
        if job.next_run_time is not None and job.next_run_time < current - OVERDUE_TOLERANCE:
            late = (current - job.next_run_time).total_seconds()
            return f"job {job.id} is overdue by {late:.0f} s; its wake-up timer died"
    return None


def test_stop_requested() -> bool:
    """Tell whether the test-only stop file exists."""
    name = os.environ.get(TEST_STOP_FILE_VARIABLE)
    return name is not None and name != "" and Path(name).exists()


async def ping_while_healthy(
    notifier: Notifier, scheduler: BaseScheduler, interval: float
) -> None:
    """Send ``WATCHDOG=1`` every ``interval`` seconds while the scheduler is healthy.

    Runs until cancelled.  A withheld ping is logged once per cause.
    """
    withheld_for: str | None = None
    while True:
        problem = scheduler_problem(scheduler)
        if problem is None and test_stop_requested():
            problem = TEST_STOP_REASON
        if problem is None:
            notifier.send(WATCHDOG=1)
        elif problem != withheld_for:
            # A requested test stop is no fault, so it stays out of "journalctl -p err".
            level = log.warning if problem == TEST_STOP_REASON else log.error
            level("watchdog_ping_withheld", reason=problem)
        withheld_for = problem
        await asyncio.sleep(interval)
