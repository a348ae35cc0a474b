"""Start-up errors of ``taskagent-backupd``: JSON in the journal, plain text on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from taskagent_backup.errors import EX_CONFIG


def test_daemon_main_invalid_config_journal_json(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[schedule]\ndaily = 'every night'\n")
    output = tmp_path / "journal.log"

    with output.open("w") as stream:
        status = os.fstat(stream.fileno())
        environment = {**os.environ, "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
        result = subprocess.run(
            [sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config)],
            stdout=stream, stderr=subprocess.PIPE, env=environment, text=True, timeout=60,
        )
    lines = output.read_text().splitlines()

    assert result.returncode == EX_CONFIG
    assert result.stderr == ""
    assert len(lines) == 1
    assert lines[0].startswith("<3>")
    entry = json.loads(lines[0][3:])
    assert entry["event"] == "startup_failed"
    assert "schedule.daily" in entry["error"]


def test_daemon_main_invalid_config_stderr_text(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[schedule]\ndaily = 'every night'\n")
    environment = {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}

    result = subprocess.run(
        [sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config)],
        capture_output=True, env=environment, text=True, timeout=60,
    )

    assert result.returncode == EX_CONFIG
    assert result.stderr.startswith("taskagent-backupd: invalid configuration")
