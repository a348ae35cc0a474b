"""The command-line entry points: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from taskagent_backup.errors import EX_CONFIG, EX_UNAVAILABLE
from taskagent_backup.naming import parse_backup_file_name


def run(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *arguments], capture_output=True, text=True, timeout=60, env=env
    )


def test_run_now_invalid_config_exits_ex_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[schedule]\nweekly = "0 1 * * funday"\n')

    result = run("taskagent_backup.daemon_main", "--config", str(config), "--run-now")

    assert result.returncode == EX_CONFIG
    assert "schedule.weekly = '0 1 * * funday'" in result.stderr


def test_run_now_unreachable_database_exits_unavailable(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\ndsn = "postgresql://app:pw-not-shown@/db?host=/nonexistent&port=5999"\n'
        f'[backup]\ndirectory = "{tmp_path / "out"}"\n'
    )

    result = run("taskagent_backup.daemon_main", "--config", str(config), "--run-now")

    assert result.returncode == EX_UNAVAILABLE
    assert "cannot connect to postgresql://app@/db?host=/nonexistent&port=5999" in result.stderr
    assert "pw-not-shown" not in result.stderr + result.stdout
    assert [p.name for p in (tmp_path / "out").iterdir() if parse_backup_file_name(p.name)] == []


def test_cli_accepts_config_before_and_after_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[retention]\ndaily_days = -1\n')

    before = run("taskagent_backup.cli.main", "--config", str(config), "run")
    after = run("taskagent_backup.cli.main", "run", "--config", str(config))

    assert before.returncode == EX_CONFIG
    assert after.returncode == EX_CONFIG
    assert str(config) in before.stderr
    assert str(config) in after.stderr


def test_run_invalid_label_rejected_before_start(tmp_path: Path) -> None:
    result = run("taskagent_backup.cli.main", "run", "--kind", "pre-migration",
                 "--label", "add status/column")

    assert result.returncode == 2
    assert "invalid label 'add status/column'" in result.stderr
    assert "Traceback" not in result.stderr
