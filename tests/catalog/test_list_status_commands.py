"""``taskagent-backup list`` and ``status``: output and exit codes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import time_machine

from taskagent_backup.cli.main import main
from taskagent_backup.cli.pipes import EXIT_BROKEN_PIPE
from taskagent_backup.cli.status_command import EXIT_STALE, daemon_state, next_runs, parse_duration
from taskagent_backup.errors import DaemonRunningError
from taskagent_backup.lock import backup_lock, daemon_lock
from taskagent_backup.settings import Settings
from tests.catalog.backup_files import at, truncate, write_backup, write_encrypted_backup


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{tmp_path / "backups"}"\n{extra}')
    return config


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


def status(config: Path, *options: str) -> int:
    return main(["--config", str(config), "status", *options])


def test_status_fresh_backup_exits_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "daily", hours_ago(2))

    assert status(config, "--max-age", "26h") == 0


def test_status_stale_backup_exits_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "daily", hours_ago(27))

    exit_code = status(config, "--max-age", "26h")

    assert exit_code == EXIT_STALE == 1
    assert "CRITICAL" in capsys.readouterr().out


def test_status_no_backup_exits_stale(tmp_path: Path) -> None:
    config = write_config(tmp_path)

    assert status(config, "--max-age", "26h") == EXIT_STALE


def test_status_damaged_newest_counts_older_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "daily", hours_ago(30))
    truncate(write_backup(tmp_path / "backups", "daily", hours_ago(1)))

    exit_code = status(config, "--max-age", "26h")

    assert exit_code == EXIT_STALE
    assert "damaged or failed verification: 1" in capsys.readouterr().out


def test_status_without_max_age_exits_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "daily", hours_ago(24 * 400))

    assert status(config) == 0


def test_status_kind_filter_ignores_manual(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "daily", hours_ago(50))
    write_backup(tmp_path / "backups", "manual", hours_ago(1))

    assert status(config, "--max-age", "26h") == 0
    assert status(config, "--max-age", "26h", "--kind", "daily") == EXIT_STALE


def test_status_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, '[schedule]\ntimezone = "Asia/Tokyo"\n')
    daily = write_backup(tmp_path / "backups", "daily", hours_ago(3))
    capsys.readouterr()

    exit_code = status(config, "--json", "--max-age", "1h")

    document = orjson.loads(capsys.readouterr().out)
    assert exit_code == EXIT_STALE
    assert document["newest_good"]["daily"]["name"] == daily.name
    assert 3 * 3600 <= document["newest_good"]["daily"]["age_seconds"] < 3 * 3600 + 60
    assert document["newest_good"]["weekly"] is None
    assert document["next_runs"]["daily"].endswith("+09:00")
    assert document["daemon"]["running"] is False
    assert document["max_age"]["ok"] is False


def test_status_exit_code_from_subprocess(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "weekly", hours_ago(24 * 9))

    result = subprocess.run(
        [sys.executable, "-m", "taskagent_backup.cli.main", "--config", str(config),
         "status", "--max-age", "8d"],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == EXIT_STALE, result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("26h", 26 * 3600), ("90m", 5400), ("1d12h", 36 * 3600), ("2w", 14 * 86400), ("45", 45)],
)
def test_parse_duration_valid(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "26x", "1h 2m", "-1h", "26hours"])
def test_parse_duration_invalid(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_next_runs_follow_schedule_zone() -> None:
    settings = Settings(schedule={"timezone": "Europe/Berlin", "daily": "30 2 * * *",
                                  "weekly": "0 1 * * mon"})

    runs = next_runs(settings, at("2026-03-28 12:00"))

    # 2026-03-29 is the spring-forward night in Berlin: 02:30 does not exist.
    assert runs["daily"] is not None
    assert runs["daily"].astimezone(UTC) >= at("2026-03-29 00:30")
    assert runs["weekly"] == datetime(2026, 3, 30, 1, 0, tzinfo=runs["weekly"].tzinfo)


def test_daemon_state_reads_daemon_and_backup_locks(tmp_path: Path) -> None:
    before = daemon_state(tmp_path)
    with daemon_lock(tmp_path):
        with backup_lock(tmp_path):
            state = daemon_state(tmp_path)
        idle = daemon_state(tmp_path)
    after = daemon_state(tmp_path)

    assert not before.running
    assert state.running
    assert state.pid == os.getpid()
    assert state.backup_in_progress
    assert idle.running
    assert not idle.backup_in_progress
    assert not after.running


def test_daemon_lock_second_holder_rejected(tmp_path: Path) -> None:
    with (
        daemon_lock(tmp_path),
        pytest.raises(DaemonRunningError, match=f"pid {os.getpid()}"),
        daemon_lock(tmp_path),
    ):
        pass


def test_list_table_shows_states(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, '[schedule]\ntimezone = "Asia/Tokyo"\n')
    write_backup(tmp_path / "backups", "daily", at("2026-03-02 02:00"))
    truncate(write_backup(tmp_path / "backups", "weekly", at("2026-03-02 01:00")))
    write_backup(tmp_path / "backups", "pre-migration", at("2026-03-03 09:00"),
                 label="add_status_column")

    assert main(["--config", str(config), "list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "KIND", "SIZE"]
    assert "2026-03-02 10:00 JST" in lines[1]
    assert "DAMAGED" in lines[1]
    assert "2026-03-02 11:00 JST" in lines[2]
    assert "good" in lines[2]
    assert "pre-migration (add_status_column)" in lines[3]


def test_list_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    path = write_backup(tmp_path / "backups", "daily", at("2026-03-02 02:00"))
    capsys.readouterr()

    assert main(["--config", str(config), "list", "--json"]) == 0

    [entry] = orjson.loads(capsys.readouterr().out)["backups"]
    assert entry["name"] == path.name
    assert entry["started_at"] == "2026-03-02T02:00:00Z"
    assert entry["good"] is True
    assert entry["rows"] == 2
    assert entry["verified"] is None


def test_list_verified_encrypted_shows_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    path, key = write_encrypted_backup(
        tmp_path / "backups", "daily", at("2026-03-02 02:00"), tmp_path / "keys"
    )
    assert main(["verify", "--identity", str(key), str(path)]) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "list"]) == 0
    [_header, row] = capsys.readouterr().out.splitlines()
    assert main(["--config", str(config), "list", "--json"]) == 0
    [entry] = orjson.loads(capsys.readouterr().out)["backups"]

    assert "encrypted, verified" in row
    assert "not checked" not in row
    assert entry["state"] == "encrypted"
    assert entry["verified"] is True
    assert entry["detail"].startswith("encrypted: content checked by verify at 20")


def test_status_missing_kind_names_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    write_backup(tmp_path / "backups", "manual", hours_ago(1))

    exit_code = status(config, "--max-age", "1h", "--kind", "daily")

    assert exit_code == EXIT_STALE
    assert "CRITICAL: no good daily backup\n" in capsys.readouterr().out


def test_status_missing_two_kinds_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    status(config, "--max-age", "1h", "--kind", "daily", "--kind", "weekly")

    assert "CRITICAL: no good backup of the kinds daily, weekly\n" in capsys.readouterr().out


def test_status_no_backup_any_kind_says_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    status(config, "--max-age", "1h")

    assert "CRITICAL: no good backup at all\n" in capsys.readouterr().out


def test_status_stale_prints_age_and_limit_in_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    now = datetime(2026, 3, 2, 12, 0, 0, 700_000, tzinfo=UTC)
    write_backup(tmp_path / "backups", "daily", now.replace(microsecond=0) - timedelta(seconds=2))

    with time_machine.travel(now, tick=False):
        exit_code = status(config, "--max-age", "1s")

    output = capsys.readouterr().out
    assert exit_code == EXIT_STALE
    assert "is 0d 0h 0m 2s old, more than 0d 0h 0m 1s\n" in output
    assert "age 0d 0h 0m 2s" in output


def test_status_limit_equal_age_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    now = datetime(2026, 3, 2, 12, 0, 0, 900_000, tzinfo=UTC)
    write_backup(tmp_path / "backups", "daily", now.replace(microsecond=0) - timedelta(hours=26))

    with time_machine.travel(now, tick=False):
        exit_code = status(config, "--max-age", "26h")

    assert exit_code == 0
    assert "OK: the newest good backup is at most 1d 2h 0m 0s old\n" in capsys.readouterr().out


def test_status_japanese_keeps_critical_keyword(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    environment["LANG"] = "ja_JP.UTF-8"

    result = subprocess.run(
        [sys.executable, "-m", "taskagent_backup.cli.main", "--config", str(config),
         "status", "--max-age", "1h", "--kind", "daily"],
        capture_output=True, text=True, timeout=60, env=environment,
    )

    assert result.returncode == EXIT_STALE, result.stderr
    assert "CRITICAL: 正常な daily バックアップがありません\n" in result.stdout


@pytest.mark.parametrize("command", ["list", "status", "verify"])
def test_command_closed_stdout_exits_quietly(tmp_path: Path, command: str) -> None:
    config = write_config(tmp_path)
    paths = [write_backup(tmp_path / "backups", "daily", hours_ago(hours)) for hours in range(50)]
    arguments = [str(path) for path in paths] if command == "verify" else []

    # The reader is gone before the command starts, as with `| head` on long output.
    process = subprocess.Popen(
        [sys.executable, "-m", "taskagent_backup.cli.main", "--config", str(config),
         command, *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    exit_code = process.wait(timeout=60)

    assert exit_code == EXIT_BROKEN_PIPE == 141
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
