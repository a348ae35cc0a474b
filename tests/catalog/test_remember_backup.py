"""A backup the run just wrote enters the catalog without being read again."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from taskagent_backup import catalog
from taskagent_backup.run_once import run_once
from tests.conftest import make_settings


async def test_run_once_catalogs_new_backup_from_writer(
    taskagent_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(taskagent_dsn, tmp_path, backup={"embed_schema": False})

    result = await run_once(settings, "daily")

    def must_not_read(*_arguments: Any) -> None:
        raise AssertionError("the new backup was read again")

    monkeypatch.setattr(catalog, "_read_entry", must_not_read)
    [entry] = catalog.scan_directory(tmp_path)
    assert entry.state == "good"
    assert entry.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert entry.rows == result.rows
    assert entry.tables == len(result.tables)
