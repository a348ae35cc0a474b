"""Fire times of the daily and weekly cron triggers across DST changes, under frozen time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from taskagent_backup.daemon.schedule import (
    build_schedules,
    build_trigger,
    is_repeated_wall_time,
    most_recent_fire_time,
)
from taskagent_backup.settings import ScheduleSettings

# (zone, a local date a few days before a DST change or none, what happens)
DST_NIGHTS = [
    ("Europe/Berlin", "2026-03-26", "spring forward 02:00 -> 03:00 on 03-29"),
    ("Europe/Berlin", "2026-10-22", "fall back 03:00 -> 02:00 on 10-25"),
    ("America/New_York", "2026-03-05", "spring forward 02:00 -> 03:00 on 03-08"),
    ("America/New_York", "2026-10-29", "fall back 02:00 -> 01:00 on 11-01"),
    ("Asia/Tokyo", "2026-03-26", "no DST"),
]
EXPRESSIONS = ["0 2 * * *", "30 2 * * *", "0 1 * * *", "59 1 * * *", "0 3 * * *"]
DAYS = 7


def _fire_times(expression: str, zone_name: str, start: str, days: int) -> list[datetime]:
    zone = ZoneInfo(zone_name)
    trigger = build_trigger(expression, zone)
    start_at = datetime.fromisoformat(start).replace(tzinfo=zone)
    times: list[datetime] = []
    with time_machine.travel(start_at, tick=False):
        now = datetime.now(zone)
        previous = None
        while True:
            fire_time = trigger.get_next_fire_time(previous, now)
            assert fire_time is not None
            if fire_time >= start_at + timedelta(days=days):
                return times
            times.append(fire_time)
            previous, now = fire_time, fire_time
    raise AssertionError("unreachable")


@pytest.mark.parametrize("zone_name,start,change", DST_NIGHTS)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_daily_trigger_dst_night_one_run_per_day(
    zone_name: str, start: str, change: str, expression: str
) -> None:
    times = _fire_times(expression, zone_name, start, DAYS)
    local_dates = Counter(moment.astimezone(ZoneInfo(zone_name)).date() for moment in times)

    assert len(times) == DAYS, (change, times)
    assert set(local_dates.values()) == {1}, (change, times)
    assert times == sorted(set(times))


def test_daily_trigger_spring_gap_runs_at_change() -> None:
    times = _fire_times("30 2 * * *", "Europe/Berlin", "2026-03-29", 1)

    # 02:30 does not exist that night; the run moves by the skipped hour to 03:30 CEST.
    # Compared in UTC: PEP 495 makes times in a gap or fold unequal to other zones' times.
    assert [moment.astimezone(UTC) for moment in times] == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    ]


def test_daily_trigger_fall_back_runs_first_occurrence() -> None:
    times = _fire_times("30 2 * * *", "Europe/Berlin", "2026-10-25", 1)

    assert [moment.astimezone(UTC) for moment in times] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    ]


def test_weekly_trigger_dst_weeks_one_run_per_week() -> None:
    for zone_name, start, change in DST_NIGHTS:
        times = _fire_times("0 1 * * mon", zone_name, start, 21)
        weekdays = {moment.astimezone(ZoneInfo(zone_name)).weekday() for moment in times}

        assert len(times) == 3, (change, times)
        assert weekdays == {0}, (change, times)


def test_repeated_wall_time_only_second_occurrence() -> None:
    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC).astimezone(zone)
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC).astimezone(zone)

    assert (first.hour, second.hour) == (1, 1)
    assert not is_repeated_wall_time(first)
    assert is_repeated_wall_time(second)
    assert not is_repeated_wall_time(datetime(2026, 11, 2, 1, 30, tzinfo=zone))


def test_most_recent_fire_time_before_today_run() -> None:
    zone = ZoneInfo("Asia/Tokyo")
    trigger = build_trigger("0 2 * * *", zone)

    found = most_recent_fire_time(trigger, datetime(2026, 12, 4, 1, 59, tzinfo=zone))

    assert found == datetime(2026, 12, 3, 2, 0, tzinfo=zone)


def test_most_recent_fire_time_exact_moment_included() -> None:
    zone = ZoneInfo("UTC")
    trigger = build_trigger("0 1 * * mon", zone)

    found = most_recent_fire_time(trigger, datetime(2026, 11, 30, 1, 0, tzinfo=zone))

    assert found == datetime(2026, 11, 30, 1, 0, tzinfo=zone)


def test_most_recent_fire_time_yearly_found() -> None:
    trigger = build_trigger("0 0 1 1 *", ZoneInfo("UTC"))

    found = most_recent_fire_time(trigger, datetime(2026, 12, 4, tzinfo=UTC))

    assert found == datetime(2026, 1, 1, tzinfo=UTC)


def test_build_schedules_configured_zone_used() -> None:
    schedules = build_schedules(
        ScheduleSettings(timezone="America/New_York", daily="15 4 * * *")
    )

    assert [schedule.kind for schedule in schedules] == ["daily", "weekly"]
    assert schedules[0].expression == "15 4 * * *"
    assert str(schedules[0].trigger.timezone) == "America/New_York"
