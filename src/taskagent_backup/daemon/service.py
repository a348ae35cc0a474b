"""The daemon's lifecycle: schedule, run, reload on SIGHUP, stop on SIGTERM/SIGINT.

Backups run one at a time: an ``asyncio.Lock`` orders the daemon's own runs
(a weekly and a daily run due together run one after the other) and the
``flock`` taken in ``run_once`` keeps out other processes such as
``taskagent-backupd --run-now``.  Scheduler jobs only start a task and
return, so the daemon, not APScheduler, owns every running backup and can
cancel and await it on stop.

On SIGTERM or SIGINT a running backup is cancelled at once instead of being
allowed to finish.  ``run_backup`` then removes its temporary file, so no
partial file appears under a backup name.  The missed-run check takes the
backup again after the next start.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from taskagent_backup.daemon.drills import drill_after_backup
from taskagent_backup.daemon.missed import find_missed_runs, newest_good_backup_times
from taskagent_backup.daemon.notify import Notifier, monotonic_usec
from taskagent_backup.daemon.schedule import SCHEDULED_KINDS, Schedule, build_schedules
from taskagent_backup.daemon.status import RunOutcome, describe_status
from taskagent_backup.daemon.watchdog import ping_while_healthy, watchdog_interval
from taskagent_backup.errors import BackupToolError, ConfigError, LockHeldError
from taskagent_backup.i18n import _
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import Settings, load_settings

log = structlog.get_logger(__name__)

# systemd's default TimeoutStopSec is 90 s; cancelling a backup normally
# takes well under a second, and this extension covers a slow disk.
STOP_EXTEND_USEC = 30_000_000
CLOCK_CHECK_SECONDS = 30.0
CLOCK_JUMP_TOLERANCE_SECONDS = 60.0
LATE_WARNING_SECONDS = 5.0
RETRY_JOB_SUFFIX = "-retry"


class BackupDaemon:
    """The long-running service around ``run_once``.

    ``serve`` returns 0 after a clean stop.  ``settings`` is replaced as a
    whole on a successful reload; a run takes the settings current when it
    starts and keeps them to the end.
    """

    def __init__(
        self, settings: Settings, config_path: Path | None, notifier: Notifier | None = None
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.scheduler = AsyncIOScheduler(timezone=settings.schedule.zone())
        self.schedules: list[Schedule] = build_schedules(settings.schedule)
        self.outcomes: dict[str, RunOutcome] = {}
        self.problem: str | None = None
        self._stop_requested = asyncio.Event()
        self._run_lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self._active_kinds: set[str] = set()
        self._backup_tasks: set[asyncio.Task[None]] = set()
        self._helper_tasks: set[asyncio.Task[None]] = set()

    # ----- lifecycle -------------------------------------------------------

    async def serve(self) -> int:
        """Run until SIGTERM or SIGINT (or ``request_stop``); return the exit code 0.

        Sends ``READY=1`` once the scheduler runs, before any database
        access, so a database that is down never delays start-up.
        """
        self._install_signal_handlers()
        self._start_scheduler()
        self.notifier.send(READY=1)
        log.info("daemon_started", config=str(self.config_path), **self._schedule_fields())
        self.update_status()

        self._start_helper(self._catch_up("start"))
        self._start_helper(self._watch_clock())
        interval = watchdog_interval()
        if interval is not None:
            self._start_helper(ping_while_healthy(self.notifier, self.scheduler, interval))

        await self._stop_requested.wait()
        await self._shutdown()
        return 0

    def request_stop(self) -> None:
        """Ask ``serve`` to stop; safe to call from a signal handler."""
        self._stop_requested.set()

    def request_reload(self) -> None:
        """Start a reload of the configuration file in the background."""
        self._start_helper(self.reload())

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(number)

    def _start_scheduler(self) -> None:
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_SUBMITTED)
        for schedule in self.schedules:
            self._add_scheduled_job(schedule)
        self.scheduler.start()

    def _add_scheduled_job(self, schedule: Schedule) -> None:
        self.scheduler.add_job(
            self._start_scheduled_run, trigger=schedule.trigger, args=[schedule.kind],
            id=schedule.kind, name=f"{schedule.kind} backup", replace_existing=True,
            coalesce=True, max_instances=1,
            misfire_grace_time=self.settings.schedule.misfire_grace_seconds,
        )

    async def _shutdown(self) -> None:
        self.notifier.send(STOPPING=1)
        log.info("daemon_stopping", running_backups=len(self._backup_tasks))
        for helper in list(self._helper_tasks):
            helper.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._backup_tasks:
            self.notifier.send(EXTEND_TIMEOUT_USEC=STOP_EXTEND_USEC)
            for task in self._backup_tasks:
                task.cancel()
        await asyncio.gather(*self._helper_tasks, *self._backup_tasks, return_exceptions=True)
        self._remove_signal_handlers()
        log.info("daemon_stopped")

    def _start_helper(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._helper_tasks.add(task)
        task.add_done_callback(self._helper_done)

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        self._helper_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("daemon_task_crashed", exc_info=task.exception())

    # ----- runs ------------------------------------------------------------

    async def _start_scheduled_run(self, kind: str) -> None:
        """Scheduler job: start the run in a task of our own and return."""
        self.start_run(kind, "schedule")

    def start_run(self, kind: str, reason: str) -> None:
        """Start a backup of ``kind`` unless one of that kind is running or waiting."""
        if kind in self._active_kinds:
            log.info("backup_already_pending", kind=kind, reason=reason)
            return
        self._active_kinds.add(kind)
        task = asyncio.get_running_loop().create_task(self._run(kind, reason))
        self._backup_tasks.add(task)
        task.add_done_callback(self._backup_tasks.discard)

    async def _run(self, kind: str, reason: str) -> None:
        try:
            async with self._run_lock:
                await self._run_with(self.settings, kind, reason)
        except asyncio.CancelledError:
            log.warning("backup_cancelled", kind=kind, reason=reason)
            raise
        finally:
            self._active_kinds.discard(kind)
            self.update_status()

    async def _run_with(self, settings: Settings, kind: str, reason: str) -> None:
        try:
            result = await run_once(settings, kind)
        except LockHeldError as error:
            log.warning("backup_skipped_lock_held", kind=kind, reason=reason, pid=error.pid)
            self._record_failure(kind, str(error))
        except BackupToolError as error:
            log.error("backup_failed", kind=kind, reason=reason, error=str(error),
                      exit_code=error.exit_code)
            self._record_failure(kind, str(error))
        except Exception as error:
            log.exception("backup_crashed", kind=kind, reason=reason)
            self._record_failure(kind, f"{type(error).__name__}: {error}")
        else:
            self.outcomes[kind] = RunOutcome(
                kind, True, datetime.now(UTC), bytes=result.bytes, seconds=result.seconds
            )
            await drill_after_backup(settings, kind, result)

    def _record_failure(self, kind: str, error: str) -> None:
        first_line = error.splitlines()[0] if error else ""
        self.outcomes[kind] = RunOutcome(kind, False, datetime.now(UTC), error=first_line)
        if kind in SCHEDULED_KINDS:
            self._schedule_retry(kind)

    def _schedule_retry(self, kind: str) -> None:
        retry_at = datetime.now(UTC) + timedelta(seconds=self.settings.schedule.retry_seconds)
        job = self.scheduler.get_job(kind)
        if job is None or (job.next_run_time is not None and retry_at >= job.next_run_time):
            log.info("backup_retry_not_needed", kind=kind, reason="next scheduled run comes first")
            return
        self.scheduler.add_job(
            self._start_retry, trigger=DateTrigger(run_date=retry_at), args=[kind],
            id=kind + RETRY_JOB_SUFFIX, replace_existing=True, misfire_grace_time=None,
        )
        log.warning("backup_retry_scheduled", kind=kind, retry_at=retry_at.isoformat(),
                    in_seconds=self.settings.schedule.retry_seconds)

    async def _start_retry(self, kind: str) -> None:
        """Scheduler job: check ``kind`` for a missed run in a task of our own."""
        self._start_helper(self._catch_up("retry", kind))

    # ----- missed runs and clock jumps --------------------------------------

    async def _catch_up(self, reason: str, only_kind: str | None = None) -> None:
        """Start every scheduled kind whose most recent scheduled run left no backup."""
        schedules = [s for s in self.schedules if only_kind in (None, s.kind)]
        directory = self.settings.backup.directory
        try:
            newest = await asyncio.to_thread(
                newest_good_backup_times, directory, [s.kind for s in schedules]
            )
        except OSError as error:
            log.error("missed_run_check_failed", directory=str(directory), error=str(error))
            return
        now = datetime.now(UTC)
        for missed in find_missed_runs(schedules, newest, now):
            log.warning(
                "missed_run_catch_up", kind=missed.kind, reason=reason,
                scheduled_for=missed.scheduled_for.isoformat(),
                late_seconds=round((now - missed.scheduled_for).total_seconds()),
                newest_backup_at=missed.newest_backup_at.isoformat()
                if missed.newest_backup_at else None,
            )
            self.start_run(missed.kind, f"catch-up after {reason}")

    async def _watch_clock(self) -> None:
        wall, monotonic = time.time(), time.monotonic()
        while True:
            await asyncio.sleep(CLOCK_CHECK_SECONDS)
            new_wall, new_monotonic = time.time(), time.monotonic()
            jump = (new_wall - wall) - (new_monotonic - monotonic)
            wall, monotonic = new_wall, new_monotonic
            if abs(jump) > CLOCK_JUMP_TOLERANCE_SECONDS:
                log.warning("clock_jump_detected", seconds=round(jump))
                # The wake-up timer counts monotonic time; recompute it from the new wall clock.
                self.scheduler.wakeup()
                await self._catch_up("clock jump")

    def _on_job_event(self, event: SchedulerEvent) -> None:
        now = datetime.now(UTC)
        if isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            late = (now - event.scheduled_run_time).total_seconds()
            log.warning("scheduled_run_missed", job=event.job_id, late_seconds=round(late),
                        scheduled_for=event.scheduled_run_time.isoformat())
            kind = event.job_id.removesuffix(RETRY_JOB_SUFFIX)
            self._start_helper(self._catch_up("missed run", kind))
        elif isinstance(event, JobSubmissionEvent):
            late = (now - max(event.scheduled_run_times)).total_seconds()
            if late > LATE_WARNING_SECONDS:
                log.warning("scheduled_run_late", job=event.job_id, late_seconds=round(late))

    # ----- reload ------------------------------------------------------------

    async def reload(self) -> None:
        """Re-read the configuration; apply it when valid, else keep the old one.

        Sends ``RELOADING=1`` with ``MONOTONIC_USEC`` first and ``READY=1``
        last, as ``Type=notify-reload`` and ``ExecReload=`` expect.
        """
        async with self._reload_lock:
            self.notifier.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec())
            try:
                settings = load_settings(self.config_path, check_password=True)
            except ConfigError as error:
                log.error("config_reload_failed", config=str(error.source),
                          problems=error.problems)
                self.problem = _(
                    "configuration reload failed, still running on the previous one: {problem}"
                ).format(problem="; ".join(error.problems))
            else:
                self.apply_settings(settings)
                self.problem = None
                log.info("config_reloaded", config=str(self.config_path),
                         **self._schedule_fields())
            self.notifier.send(READY=1)
            self.update_status()

    def apply_settings(self, settings: Settings) -> None:
        """Switch to ``settings``: log level, schedules and grace time take effect now.

        Retention and database targets are read by each run when it starts,
        so a running backup finishes on the settings it started with.
        """
        configure_logging(settings.logging.level)
        self.settings = settings
        self.schedules = build_schedules(settings.schedule)
        for schedule in self.schedules:
            self._add_scheduled_job(schedule)

    # ----- status ------------------------------------------------------------

    def next_run_times(self) -> dict[str, datetime | None]:
        """Return the next scheduled run of each scheduled kind."""
        times: dict[str, datetime | None] = {}
        for kind in SCHEDULED_KINDS:
            job = self.scheduler.get_job(kind)
            times[kind] = job.next_run_time if job else None
        return times

    def update_status(self) -> None:
        """Send the current ``STATUS=`` line to systemd."""
        now = datetime.now(UTC)
        text = describe_status(
            [self.outcomes[kind] for kind in sorted(self.outcomes)],
            self.next_run_times(), self.settings.schedule.zone(), now, self.problem,
        )
        self.notifier.status(text)

    def _schedule_fields(self) -> dict[str, str | None]:
        fields: dict[str, str | None] = {}
        for schedule in self.schedules:
            fields[schedule.kind] = schedule.expression
        for kind, moment in self.next_run_times().items():
            fields[f"next_{kind}"] = moment.isoformat() if moment else None
        return fields
