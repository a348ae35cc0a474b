"""Missed runs: which scheduled kinds have no good backup since their last fire time.

Like ``Persistent=true`` on a systemd timer: a server that was off, or whose
clock jumped, at a kind's scheduled time runs that kind once when it comes
back.  The newest good backup comes from the catalog, whose start times are
the UTC stamps in the file names, never file mtimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from taskagent_backup.catalog import newest_good, scan_directory
from taskagent_backup.daemon.schedule import Schedule, most_recent_fire_time


@dataclass(frozen=True)
class MissedRun:
    """A kind whose most recent scheduled time has no good backup after it."""

    kind: str
    scheduled_for: datetime
    newest_backup_at: datetime | None


def newest_good_backup_times(directory: Path, kinds: Iterable[str]) -> dict[str, datetime | None]:
    """Return the UTC start of the newest good backup of each kind in ``directory``.

    Reads the catalog, which may read whole files; call it off the event loop.
    """
    entries = scan_directory(directory)
    times: dict[str, datetime | None] = {}
    for kind in kinds:
        entry = newest_good(entries, kind)
        times[kind] = entry.started_at if entry else None
    return times


def find_missed_runs(
    schedules: Iterable[Schedule], newest: Mapping[str, datetime | None], now: datetime
) -> list[MissedRun]:
    """Return the schedules whose latest fire time at or before ``now`` has no backup.

    A kind with no good backup at all counts as missed as soon as its
    schedule has fired once, so a fresh installation gets a first backup
    right away.
    """
    missed = []
    for schedule in schedules:
        scheduled_for = most_recent_fire_time(schedule.trigger, now)
        newest_at = newest.get(schedule.kind)
        if scheduled_for is None:
            continue
        if newest_at is None or newest_at < scheduled_for:
            missed.append(MissedRun(schedule.kind, scheduled_for, newest_at))
    return missed
