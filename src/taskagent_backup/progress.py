"""Per-table progress of a restore or verification, for a person at a terminal.

On a terminal one status line per table is redrawn with the rows done and
the percent of the table's estimated rows (from the backup's table
description, so the percent is an estimate).  Anywhere else nothing is
drawn, because the journal gets one log event per table from the caller.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from taskagent_backup.i18n import _

REDRAW_INTERVAL_SECONDS = 0.2


class Progress:
    """Draws progress to ``stream`` when it is a terminal; otherwise does nothing."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.table = ""
        self.total = 0
        self.done = 0
        self._drawn_at = 0.0

    def start(self, table: str, estimated_rows: int) -> None:
        """Begin a table whose row count is about ``estimated_rows``."""
        self.table, self.total, self.done = table, max(estimated_rows, 0), 0
        self._draw(force=True)

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows of the current table."""
        self.done += rows
        self._draw(force=False)

    def finish(self, rows: int) -> None:
        """End the current table, which had ``rows`` rows, and keep its line."""
        self.done, self.total = rows, rows
        self._draw(force=True)
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn_at < REDRAW_INTERVAL_SECONDS):
            return
        self._drawn_at = now
        percent = f"{min(100, 100 * self.done // self.total):3d}%" if self.total else "   -"
        line = _("  {table:<40} {done:>12,} rows {percent}").format(
            table=self.table, done=self.done, percent=percent
        )
        self.stream.write("\r" + line)
        self.stream.flush()
