"""Log lines: JSON objects, syslog priority prefixes for the journal, no passwords."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
import structlog

from taskagent_backup.logging_setup import configure_logging, is_journal_stream, mask_secrets


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo this module's logging configuration for later tests."""
    yield
    configure_logging("info", io.StringIO())
    logging.getLogger().handlers = []


@pytest.fixture
def journal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TextIO]:
    """A file that ``JOURNAL_STREAM`` names, standing in for the journal socket."""
    with (tmp_path / "journal.log").open("w+") as stream:
        status = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
        yield stream


def _lines(stream: TextIO) -> list[str]:
    stream.seek(0)
    return stream.read().splitlines()


def test_configure_logging_plain_stream_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    configure_logging("info", stream)

    structlog.get_logger("test").info("backup_finished", rows=3, file="a.json")
    entry = json.loads(stream.getvalue())

    assert entry["event"] == "backup_finished"
    assert entry["level"] == "info"
    assert entry["rows"] == 3
    assert "timestamp" in entry


def test_configure_logging_journal_priority_prefixes(journal_file: TextIO) -> None:
    configure_logging("debug", journal_file)
    log = structlog.get_logger("test")

    log.error("failed")
    log.warning("late")
    log.info("started")
    log.debug("detail")
    lines = _lines(journal_file)

    assert [line[:3] for line in lines] == ["<3>", "<4>", "<6>", "<7>"]
    assert [json.loads(line[3:])["event"] for line in lines] == [
        "failed", "late", "started", "detail"
    ]


def test_configure_logging_standard_logging_rendered_as_json(journal_file: TextIO) -> None:
    configure_logging("info", journal_file)

    logging.getLogger("apscheduler.scheduler").error("Job %s raised", "daily")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    lines = _lines(journal_file)

    assert len(lines) == 1
    assert lines[0].startswith("<3>")
    assert json.loads(lines[0][3:])["event"] == "Job daily raised"


def test_configure_logging_level_filters_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    configure_logging("info", stream)

    structlog.get_logger("test").debug("hidden")

    assert stream.getvalue() == ""


def test_configure_logging_password_never_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    configure_logging("info", stream)

    structlog.get_logger("test").error(
        "connect_failed",
        error="cannot connect to postgresql://backup:hunter2@db:5432/app",
        dsn="host=db password=hunter2",
        password="hunter2",
        detail="password='hunter2' user=backup",
    )
    try:
        raise RuntimeError("postgresql://backup:hunter2@db/app refused")
    except RuntimeError:
        structlog.get_logger("test").exception("crashed")

    assert "hunter2" not in stream.getvalue()
    assert "postgresql://backup:***@db:5432/app" in stream.getvalue()


def test_is_journal_stream_inherited_variable_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")

    with (tmp_path / "other.log").open("w") as stream:
        assert not is_journal_stream(stream)


def test_mask_secrets_url_without_password_unchanged() -> None:
    text = "postgresql://postgres@/taskagent?host=/run/postgresql"

    assert mask_secrets(text) == text
