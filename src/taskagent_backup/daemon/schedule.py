"""Cron schedules of the daemon and their fire times around DST changes.

APScheduler 3.11's ``CronTrigger`` matches cron fields against the local
wall clock.  When clocks go back (Europe/Berlin: 03:00 CEST → 02:00 CET on
the last Sunday of October), every wall-clock time in the repeated hour
exists twice.  The stock trigger fires at both, so a 02:00 daily backup
would run twice that night.  ``WallClockCronTrigger`` fires only at the
first occurrence, as Vixie cron does for jobs at fixed times.  When clocks
go forward, the stock trigger already fires once: a time in the skipped hour
moves by the length of the gap (02:30 CET, which does not exist, runs at
03:30 CEST), which is what we want.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from taskagent_backup.settings import ScheduleSettings

SCHEDULED_KINDS = ("daily", "weekly")
# Clocks go back by one hour in most zones and by two in Antarctica/Troll;
# four hours bounds the search for the period's end with a safety margin.
REPEATED_PERIOD_STEP = timedelta(minutes=1)
MAX_REPEATED_PERIOD_STEPS = 4 * 60
# Search windows for the most recent fire time: a day, a week, a month, a year, 5 years.
LOOKBACK_WINDOWS = (timedelta(days=1), timedelta(days=8), timedelta(days=32),
                    timedelta(days=367), timedelta(days=5 * 366))


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]
    """A cron trigger that fires once per matching wall-clock time, DST included."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next fire time at or after ``now``, skipping repeated wall times."""
        candidate: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        # No previous fire time is passed, because APScheduler would restart the
        # search just after it, in the first occurrence of the repeated hour.
        while candidate is not None and is_repeated_wall_time(candidate):
            candidate = super().get_next_fire_time(None, end_of_repeated_period(candidate))
        return candidate

def is_repeated_wall_time(moment: datetime) -> bool:
    """Tell whether ``moment`` is the second occurrence of its local wall-clock time."""
    assert moment.tzinfo is not None
    # Through UTC, because astimezone to the same tzinfo returns ``moment`` unchanged
    # and keeps whatever ``fold`` the trigger set.
    local = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def end_of_repeated_period(moment: datetime) -> datetime:
    """Return the first minute after ``moment`` whose wall-clock time is not repeated.

    Steps in UTC, because adding a timedelta to an aware datetime moves its
    wall clock and drops ``fold``, which lands back in the first occurrence.
    """
    assert moment.tzinfo is not None
    probe = moment.astimezone(UTC)
    for _step in range(MAX_REPEATED_PERIOD_STEPS):
        probe += REPEATED_PERIOD_STEP
        if not is_repeated_wall_time(probe.astimezone(moment.tzinfo)):
            break
    return probe.astimezone(moment.tzinfo)


def build_trigger(expression: str, zone: tzinfo) -> WallClockCronTrigger:
    """Return the trigger for a five-field cron ``expression`` in ``zone``.

    Raises ``ValueError`` for an invalid expression (settings validate it first).
    """
    trigger: WallClockCronTrigger = WallClockCronTrigger.from_crontab(expression, timezone=zone)
    return trigger


@dataclass(frozen=True)
class Schedule:
    """The cron expression and trigger of one scheduled backup kind."""

    kind: str
    expression: str
    trigger: WallClockCronTrigger


def build_schedules(settings: ScheduleSettings) -> list[Schedule]:
    """Return the daily and weekly schedules in the configured time zone."""
    zone: zoneinfo.ZoneInfo = settings.zone()
    expressions = {"daily": settings.daily, "weekly": settings.weekly}
    return [
        Schedule(kind, expressions[kind], build_trigger(expressions[kind], zone))
        for kind in SCHEDULED_KINDS
    ]


def most_recent_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """Return the latest fire time of ``trigger`` at or before ``now``.

    Looks back at most about five years and returns ``None`` when the
    trigger did not fire in that time.
    """
    for window in LOOKBACK_WINDOWS:
        found = _last_fire_time_between(trigger, now - window, now)
        if found is not None:
            return found
    return None


def _last_fire_time_between(
    trigger: CronTrigger, start: datetime, end: datetime
) -> datetime | None:
    last = None
    candidate = trigger.get_next_fire_time(None, start)
    while candidate is not None and candidate <= end:
        last = candidate
        after = (candidate.astimezone(UTC) + timedelta(seconds=1)).astimezone(candidate.tzinfo)
        candidate = trigger.get_next_fire_time(None, after)
    return last
