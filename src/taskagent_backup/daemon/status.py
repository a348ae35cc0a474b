"""The one-line ``STATUS=`` text that ``systemctl status`` shows for the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from taskagent_backup import sizes
from taskagent_backup.i18n import _

# systemctl status shows one line; the full error is in the journal.
MAX_ERROR_CHARACTERS = 120


@dataclass(frozen=True)
class RunOutcome:
    """The result of the latest run of one kind, as shown in the status."""

    kind: str
    ok: bool
    finished_at: datetime
    bytes: int = 0
    seconds: float = 0.0
    error: str = ""


def format_size(size: int) -> str:
    """Return ``size`` bytes in decimal units with one decimal, e.g. ``1.2 GB``."""
    return sizes.format_size(size, decimal=True)


def format_moment(moment: datetime, zone: tzinfo, now: datetime) -> str:
    """Return ``moment`` in ``zone`` as ``HH:MM``, prefixed by the date unless it is today."""
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def describe_outcome(outcome: RunOutcome, zone: tzinfo, now: datetime) -> str:
    """Return e.g. ``last daily OK at 02:00 (1.2 GB, 38 s)`` or the failure."""
    when = format_moment(outcome.finished_at, zone, now)
    if outcome.ok:
        return _("last {kind} OK at {when} ({size}, {seconds} s)").format(
            kind=outcome.kind, when=when, size=format_size(outcome.bytes),
            seconds=round(outcome.seconds),
        )
    error = outcome.error
    if len(error) > MAX_ERROR_CHARACTERS:
        error = error[: MAX_ERROR_CHARACTERS - 1] + "…"
    return _("last {kind} FAILED at {when}: {error}").format(
        kind=outcome.kind, when=when, error=error
    )


def describe_status(
    outcomes: list[RunOutcome],
    next_runs: dict[str, datetime | None],
    zone: tzinfo,
    now: datetime,
    problem: str | None = None,
) -> str:
    """Return the status line: a config problem first, then last results and next runs."""
    parts = [problem] if problem else []
    parts += [describe_outcome(outcome, zone, now) for outcome in outcomes]
    if not outcomes:
        parts.append(_("no backup run yet"))
    for kind, moment in next_runs.items():
        if moment is not None:
            parts.append(_("next {kind} {when}").format(
                kind=kind, when=format_moment(moment, zone, now)
            ))
    return "; ".join(parts)
