"""Retention: which backups to delete after a successful run, and deleting them.

The policy (``RetentionSettings``) is applied per kind of backup:

* daily backups older than ``daily_days`` and weekly backups older than
  ``weekly_days`` are deleted.  Age is measured from the newest good backup
  of the same kind, using the UTC start recorded in the file names.  So
  neither the wall clock nor file mtimes matter, and a clock that jumps
  years forward or back cannot age out more than the policy allows.
* The age rule never leaves fewer good backups of a kind than one per day
  (daily) or one per week (weekly) of the window would give, so one backup
  stamped by a wrong clock cannot sweep away the history.
* ``monthly_keep`` > 0 keeps the newest daily or weekly backup of each of
  the latest ``monthly_keep`` calendar months (UTC) that have one.
* pre-migration backups are deleted only by count, keeping the newest
  ``pre_migration_keep``, and only when that setting is above 0; manual
  backups are never deleted.
* Only good backups (see ``catalog``) are counted or deleted.  The newest
  good backup of every kind and the files in ``keep`` are never deleted.
  Damaged and foreign files are left alone.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import structlog

from taskagent_backup.atomic import fsync_directory
from taskagent_backup.catalog import BackupEntry, newest_good, scan_directory
from taskagent_backup.naming import KINDS
from taskagent_backup.settings import RetentionSettings

log = structlog.get_logger(__name__)

DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Deletion:
    """One backup the policy removes, with the setting (``rule``) that removes it."""

    entry: BackupEntry
    rule: str
    reason: str


@dataclass
class RetentionResult:
    """Outcome of one application of the policy: deleted, kept, failed and ignored files."""

    deletions: list[Deletion] = field(default_factory=list)
    failed: list[tuple[Deletion, str]] = field(default_factory=list)
    kept: list[BackupEntry] = field(default_factory=list)
    ignored: list[BackupEntry] = field(default_factory=list)
    dry_run: bool = False


def plan_retention(
    entries: Iterable[BackupEntry], policy: RetentionSettings, keep: Iterable[str] = ()
) -> list[Deletion]:
    """Return the deletions ``policy`` calls for among ``entries``.

    ``keep`` names files that must survive whatever the policy requires (the
    backup a run has just written).  Pure: reads and deletes nothing.
    """
    good = [entry for entry in entries if entry.counts]
    protected = set(keep) | _newest_names(good) | _monthly_names(good, policy.monthly_keep)
    weekly_floor = math.ceil(policy.weekly_days / DAYS_PER_WEEK)
    candidates = [
        *_by_age(good, "daily", policy.daily_days, policy.daily_days, "retention.daily_days"),
        *_by_age(good, "weekly", policy.weekly_days, weekly_floor, "retention.weekly_days"),
        *_by_count(good, "pre-migration", policy.pre_migration_keep),
    ]

    return [deletion for deletion in candidates if deletion.entry.name not in protected]


def _newest_first(good: list[BackupEntry], kind: str) -> list[BackupEntry]:
    of_kind = [entry for entry in good if entry.kind == kind]
    return sorted(of_kind, key=lambda entry: (entry.started_at, entry.name), reverse=True)


def _newest_names(good: list[BackupEntry]) -> set[str]:
    newest = (newest_good(good, kind) for kind in KINDS)
    return {entry.name for entry in newest if entry is not None}


def _monthly_names(good: list[BackupEntry], months: int) -> set[str]:
    """Return the newest daily or weekly backup of each of the latest ``months`` months."""
    newest_per_month: dict[tuple[int, int], BackupEntry] = {}
    for entry in good:
        if entry.kind not in ("daily", "weekly"):
            continue
        month = (entry.started_at.year, entry.started_at.month)
        current = newest_per_month.get(month)
        if current is None or entry.started_at > current.started_at:
            newest_per_month[month] = entry
    latest_months = sorted(newest_per_month, reverse=True)[:months]

    return {newest_per_month[month].name for month in latest_months}


def _by_age(
    good: list[BackupEntry], kind: str, days: int, floor: int, rule: str
) -> list[Deletion]:
    ordered = _newest_first(good, kind)
    if not ordered:
        return []
    newest = ordered[0]
    limit = timedelta(days=days)
    deletions = []
    for entry in ordered[floor:]:
        age = newest.started_at - entry.started_at
        if age > limit:
            reason = (
                f"started {_describe_age(age)} before the newest good {kind} backup "
                f"{newest.name}; {rule} = {days}"
            )
            deletions.append(Deletion(entry, rule, reason))

    return deletions


def _by_count(good: list[BackupEntry], kind: str, keep: int) -> list[Deletion]:
    if keep <= 0:
        return []
    rule = "retention.pre_migration_keep"
    return [
        Deletion(entry, rule, f"{keep} newer {kind} backups exist; {rule} = {keep}")
        for entry in _newest_first(good, kind)[keep:]
    ]


def _describe_age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def apply_retention(
    directory: Path, policy: RetentionSettings, keep: Iterable[str] = (), dry_run: bool = False
) -> RetentionResult:
    """Delete the backups in ``directory`` that ``policy`` no longer keeps.

    Logs each deletion (``backup_deleted``, with file, kind and rule) and
    one ``retention_finished`` summary.  A file that cannot be deleted is
    logged as an error and reported in ``failed``; the others still go.
    With ``dry_run`` nothing is deleted and the result lists what would be.
    """
    entries = scan_directory(directory)
    deletions = plan_retention(entries, policy, keep)
    result = RetentionResult(dry_run=dry_run)
    result.ignored = [entry for entry in entries if not entry.counts]
    doomed = {deletion.entry.name for deletion in deletions}
    result.kept = [entry for entry in entries if entry.counts and entry.name not in doomed]
    for deletion in deletions:
        if dry_run:
            result.deletions.append(deletion)
        else:
            _delete(deletion, result)
    if result.deletions and not dry_run:
        with contextlib.suppress(OSError):
            fsync_directory(directory)

    _log_summary(directory, result)
    return result


def _delete(deletion: Deletion, result: RetentionResult) -> None:
    entry = deletion.entry
    try:
        os.unlink(entry.path)
    except FileNotFoundError:
        return
    except OSError as error:
        log.error("backup_delete_failed", file=str(entry.path), rule=deletion.rule,
                  error=error.strerror)
        result.failed.append((deletion, error.strerror or str(error)))
        return
    log.info("backup_deleted", file=str(entry.path), kind=entry.kind, rule=deletion.rule,
             reason=deletion.reason)
    result.deletions.append(deletion)


def _log_summary(directory: Path, result: RetentionResult) -> None:
    damaged = [entry.name for entry in result.ignored if entry.state == "damaged"]
    if damaged:
        log.warning("damaged_backups_kept", directory=str(directory), count=len(damaged),
                    files=damaged)
    log.info(
        "retention_finished", directory=str(directory), dry_run=result.dry_run,
        deleted=len(result.deletions), failed=len(result.failed), kept=len(result.kept),
        ignored=len(result.ignored),
    )
