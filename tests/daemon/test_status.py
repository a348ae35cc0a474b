"""The STATUS= line: last results and next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from taskagent_backup.daemon.status import RunOutcome, describe_status, format_size

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")


def test_format_size_units() -> None:
    assert format_size(512) == "512 B"
    assert format_size(1_200_000_000) == "1.2 GB"
    assert format_size(23_104) == "23.1 kB"


def test_describe_status_last_and_next() -> None:
    outcome = RunOutcome("daily", True, datetime(2026, 12, 4, 1, 0, 38, tzinfo=UTC),
                         bytes=1_200_000_000, seconds=38.2)
    next_runs = {"daily": datetime(2026, 12, 5, 1, 0, tzinfo=UTC), "weekly": None}

    text = describe_status([outcome], next_runs, ZONE, NOW)

    assert text == "last daily OK at 02:00 (1.2 GB, 38 s); next daily 2026-12-05 02:00"


def test_describe_status_failure_shortened() -> None:
    outcome = RunOutcome("weekly", False, NOW, error="x" * 500)

    text = describe_status([outcome], {}, ZONE, NOW)

    assert text.startswith("last weekly FAILED at 13:00: xxx")
    assert len(text) < 200


def test_describe_status_problem_first() -> None:
    text = describe_status([], {}, ZONE, NOW, problem="configuration reload failed")

    assert text == "configuration reload failed; no backup run yet"
