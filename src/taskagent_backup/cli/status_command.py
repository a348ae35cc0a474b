"""``taskagent-backup status``: newest good backups, next runs, daemon state.

With ``--max-age`` the exit code is for monitoring (cron, Nagios, a
healthcheck): 0 when the newest good backup is at most that old,
``EXIT_STALE`` (1) when it is older or there is no good backup at all.
The verdict line starts with the English keyword ``OK:`` or ``CRITICAL:``
in every language, as Nagios-style checks expect; the rest is translated.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from apscheduler.triggers.cron import CronTrigger

from taskagent_backup.catalog import BackupEntry, newest_good, scan_directory
from taskagent_backup.cli.list_command import format_local_time
from taskagent_backup.cli.pipes import quiet_on_broken_pipe
from taskagent_backup.i18n import _
from taskagent_backup.lock import DAEMON_LOCK_FILE_NAME, lock_holder, lock_path
from taskagent_backup.naming import KINDS
from taskagent_backup.settings import Settings, load_settings

EXIT_STALE = 1
DURATION_PATTERN = re.compile(r"(\d+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SYSTEMD_UNIT = "taskagent-backupd.service"
SYSTEMCTL_TIMEOUT_SECONDS = 5


def parse_duration(text: str) -> timedelta:
    """Parse ``26h``, ``90m``, ``1d12h``, ``2w`` or plain seconds into a timedelta.

    Raises ``argparse.ArgumentTypeError`` for anything else.
    """
    if text.isdigit():
        return timedelta(seconds=int(text))
    parts = DURATION_PATTERN.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise argparse.ArgumentTypeError(
            _("invalid duration {text!r}: use e.g. 26h, 90m, 1d12h or seconds").format(text=text)
        )
    return timedelta(seconds=sum(int(number) * UNIT_SECONDS[unit] for number, unit in parts))


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``status`` subcommand."""
    parser = subparsers.add_parser(
        "status", parents=[common], help=_("show the newest good backups and the next runs"),
        description=_(
            "Show the newest good backup of each kind and its age, the next scheduled "
            "runs and whether the daemon is running.  With --max-age, exit with code 1 "
            "when the newest good backup is older than that or there is none."
        ),
    )
    parser.add_argument("--json", action="store_true", help=_("print one JSON document"))
    parser.add_argument(
        "--max-age", type=parse_duration, default=None, metavar="DURATION",
        help=_("maximum age of the newest good backup, e.g. 26h; older means exit code 1"),
    )
    parser.add_argument(
        "--kind", choices=KINDS, action="append", default=None,
        help=_("consider only this kind for --max-age (repeatable; default: every kind)"),
    )
    parser.set_defaults(handler=handle)


@dataclass(frozen=True)
class DaemonState:
    """Whether the daemon process runs and whether a backup holds the lock now.

    ``systemd_state`` is the output of ``systemctl is-active`` for the
    unit (``active``, ``inactive``, ``failed`` ...), or ``None`` without a
    running systemd.
    """

    running: bool
    pid: int | None
    backup_in_progress: bool
    systemd_state: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """Everything ``status`` prints, computed once for the text and JSON forms."""

    now: datetime
    newest: dict[str, BackupEntry | None]
    unusable: list[BackupEntry]
    daemon: DaemonState
    freshness: dict[str, Any] | None


@quiet_on_broken_pipe
def handle(arguments: argparse.Namespace) -> int:
    """Print the status and return 0, or ``EXIT_STALE`` when ``--max-age`` is exceeded."""
    settings = load_settings(arguments.config)
    # Backup names carry whole seconds, so whole-second ages compare exactly
    # with --max-age and print as they were compared.
    now = datetime.now(UTC).replace(microsecond=0)
    entries = scan_directory(settings.backup.directory)
    newest = {kind: newest_good(entries, kind) for kind in KINDS}
    report = StatusReport(
        now=now,
        newest=newest,
        unusable=[entry for entry in entries if entry.state == "damaged" or
                  entry.verified is False],
        daemon=daemon_state(settings.backup.directory),
        freshness=_check_freshness(newest, arguments.kind or list(KINDS), arguments.max_age, now),
    )
    if arguments.json:
        document = _status_document(settings, report)
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        _print_status(settings, report)

    return EXIT_STALE if report.freshness is not None and not report.freshness["ok"] else 0


def _check_freshness(
    newest: dict[str, BackupEntry | None], kinds: list[str], max_age: timedelta | None,
    now: datetime,
) -> dict[str, Any] | None:
    if max_age is None:
        return None
    candidates = [entry for kind, entry in newest.items() if kind in kinds and entry]
    latest = max(candidates, key=lambda entry: entry.started_at, default=None)
    age = now - latest.started_at if latest else None
    return {
        "ok": age is not None and age <= max_age,
        "max_age_seconds": int(max_age.total_seconds()),
        "newest": latest.name if latest else None,
        "age_seconds": int(age.total_seconds()) if age is not None else None,
        "kinds": kinds,
    }


def next_runs(settings: Settings, now: datetime) -> dict[str, datetime | None]:
    """Return the next scheduled start of the daily and weekly backups after ``now``."""
    zone = settings.schedule.zone()
    runs = {}
    for kind, expression in (("daily", settings.schedule.daily),
                             ("weekly", settings.schedule.weekly)):
        trigger = CronTrigger.from_crontab(expression, timezone=zone)
        runs[kind] = trigger.get_next_fire_time(None, now.astimezone(zone))

    return runs


def daemon_state(directory: Path) -> DaemonState:
    """Tell whether a daemon serves ``directory`` and whether a backup runs now.

    Both come from the daemon and backup locks, inspected through
    ``/proc/locks`` and never taken, so asking for the status cannot make a
    starting daemon or backup fail.
    """
    pid = lock_holder(directory / DAEMON_LOCK_FILE_NAME)
    systemd_state = _systemd_unit_state()
    return DaemonState(
        running=pid is not None or systemd_state == "active",
        pid=pid or None,
        backup_in_progress=lock_holder(lock_path(directory)) is not None,
        systemd_state=systemd_state,
    )


def _systemd_unit_state() -> str | None:
    # NOTE: the test suite runs without systemd as PID 1, so this path is untested there.
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return None
    try:
        completed = subprocess.run(
            ["systemctl", "is-active", SYSTEMD_UNIT],
            capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() or None


def format_duration(age: timedelta) -> str:
    """Return ``age`` as days, hours, minutes and whole seconds, e.g. ``1d 2h 0m 5s``.

    Ages and the ``--max-age`` limit both print this way, so the two can be
    compared digit by digit.  A negative age means the clock was set back.
    """
    seconds = int(age.total_seconds())
    if seconds < 0:
        return _("in the future: check the system clock")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)

    return _("{days}d {hours}h {minutes}m {seconds}s").format(
        days=days, hours=hours, minutes=minutes, seconds=seconds
    )


def _status_document(settings: Settings, report: StatusReport) -> dict[str, Any]:
    now = report.now
    backups = {
        kind: None if entry is None else {
            **entry.to_json(), "age_seconds": int((now - entry.started_at).total_seconds()),
        }
        for kind, entry in report.newest.items()
    }
    runs = {kind: moment.isoformat() if moment else None
            for kind, moment in next_runs(settings, now).items()}
    daemon = report.daemon
    return {
        "directory": str(settings.backup.directory),
        "now": now.isoformat().replace("+00:00", "Z"),
        "newest_good": backups,
        "unusable": [{"name": entry.name, "state": entry.state, "detail": entry.detail,
                      "verified": entry.verified} for entry in report.unusable],
        "next_runs": runs,
        "daemon": {"running": daemon.running, "pid": daemon.pid,
                   "backup_in_progress": daemon.backup_in_progress,
                   "systemd_state": daemon.systemd_state},
        "max_age": report.freshness,
    }


def _print_status(settings: Settings, report: StatusReport) -> None:
    zone = settings.schedule.zone()
    print(_("newest good backups in {directory}:").format(directory=settings.backup.directory))
    for kind, entry in report.newest.items():
        if entry is None:
            print(_("  {kind:<14} none").format(kind=kind))
            continue
        print(_("  {kind:<14} {time}  age {age}  {file}").format(
            kind=kind, time=format_local_time(entry.started_at, zone),
            age=format_duration(report.now - entry.started_at), file=entry.name))
    if report.unusable:
        print(_("damaged or failed verification: {count} (run 'taskagent-backup list')").format(
            count=len(report.unusable)))
    print(_("next runs:"))
    for kind, moment in next_runs(settings, report.now).items():
        time_text = format_local_time(moment, zone) if moment else _("never")
        print(_("  {kind:<14} {time}").format(kind=kind, time=time_text))
    _print_daemon(report.daemon)
    if report.freshness is not None:
        _print_freshness(report.freshness)


def _print_daemon(daemon: DaemonState) -> None:
    if daemon.pid is not None:
        print(_("daemon: running (pid {pid})").format(pid=daemon.pid))
    elif daemon.running:
        print(_("daemon: running"))
    else:
        print(_("daemon: not running"))
    if daemon.systemd_state is not None:
        print(_("systemd unit {unit}: {state}").format(
            unit=SYSTEMD_UNIT, state=daemon.systemd_state))
    if daemon.backup_in_progress:
        print(_("a backup is running now"))


def _print_freshness(freshness: dict[str, Any]) -> None:
    limit = format_duration(timedelta(seconds=freshness["max_age_seconds"]))
    if freshness["newest"] is None:
        print("CRITICAL: " + _missing_text(freshness["kinds"]))
    elif not freshness["ok"]:
        age = format_duration(timedelta(seconds=freshness["age_seconds"]))
        print("CRITICAL: " + _(
            "the newest good backup {file} is {age} old, more than {limit}"
        ).format(file=freshness["newest"], age=age, limit=limit))
    else:
        print("OK: " + _("the newest good backup is at most {limit} old").format(limit=limit))


def _missing_text(kinds: list[str]) -> str:
    if set(kinds) >= set(KINDS):
        return _("no good backup at all")
    if len(kinds) == 1:
        return _("no good {kind} backup").format(kind=kinds[0])

    return _("no good backup of the kinds {kinds}").format(kinds=", ".join(kinds))
