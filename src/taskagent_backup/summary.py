"""One-line summaries of finished work, for people."""

from __future__ import annotations

from taskagent_backup.backup import BackupResult
from taskagent_backup.i18n import _


def format_size(size: int) -> str:
    """Return ``size`` bytes in B, KiB, MiB or GiB with one decimal."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def print_backup_summary(result: BackupResult) -> None:
    """Print the one-line summary of a finished backup to stdout."""
    print(
        _("backup written: {file} ({tables} tables, {rows} rows, {size}, {seconds:.1f} s)").format(
            file=result.path,
            tables=len(result.tables),
            rows=result.rows,
            size=format_size(result.bytes),
            seconds=result.seconds,
        )
    )
