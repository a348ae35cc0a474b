"""Progress lines on a terminal, and silence elsewhere."""

from __future__ import annotations

import io

from taskagent_backup.progress import Progress


def test_progress_enabled_shows_rows_and_percent() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)

    progress.start("public.tasks", 200)
    progress.advance(50)
    progress.finish(200)

    output = stream.getvalue()
    assert "public.tasks" in output
    assert "  0%" in output
    assert "200 rows 100%" in output
    assert output.endswith("\n")


def test_progress_disabled_writes_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=False)

    progress.start("public.tasks", 200)
    progress.advance(50)
    progress.finish(200)

    assert stream.getvalue() == ""


def test_progress_unknown_total_shows_dash() -> None:
    stream = io.StringIO()

    Progress(stream, enabled=True).start("public.empty", 0)

    assert stream.getvalue().rstrip().endswith("-")
