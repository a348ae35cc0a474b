"""One-line summaries of finished work, for people."""

from __future__ import annotations

from taskagent_backup.backup import BackupResult
from taskagent_backup.i18n import _
from taskagent_backup.sizes import format_size


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
