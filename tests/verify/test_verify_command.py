"""``taskagent-backup verify``: exit codes, output lines and check records per outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from taskagent_backup.catalog import scan_directory
from taskagent_backup.checks import checks_path, latest_checks
from taskagent_backup.cli.main import main
from taskagent_backup.errors import EX_DATAERR, EX_NOINPUT, EX_NOPERM
from tests.catalog.backup_files import (
    truncate,
    write_backup,
    write_encrypted_backup,
    write_identity,
)

STARTED_AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def verify(*arguments: str) -> int:
    return main(["verify", *arguments])


def test_verify_encrypted_without_identity_exits_noperm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _key = write_encrypted_backup(tmp_path, "daily", STARTED_AT, tmp_path / "keys")

    exit_code = verify(str(path))

    output = capsys.readouterr().out
    assert exit_code == EX_NOPERM == 77
    assert output.startswith(f"NOT CHECKED {path}")
    assert "--identity" in output
    assert "FAILED" not in output
    assert not checks_path(tmp_path).exists()


def test_verify_encrypted_wrong_identity_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _key = write_encrypted_backup(tmp_path, "daily", STARTED_AT, tmp_path / "keys")
    wrong_key = write_identity(tmp_path / "other-keys")

    exit_code = verify("--identity", str(wrong_key), str(path))

    output = capsys.readouterr().out
    [entry] = scan_directory(tmp_path)
    assert exit_code == EX_NOPERM
    assert "none of the given identities" in output
    assert latest_checks(tmp_path) == {}
    assert entry.state == "encrypted"
    assert entry.verified is None
    assert entry.counts


def test_verify_encrypted_right_identity_records_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = write_encrypted_backup(tmp_path, "daily", STARTED_AT, tmp_path / "keys")

    exit_code = verify("--identity", str(key), str(path))

    assert exit_code == 0
    assert capsys.readouterr().out.startswith(f"OK {path}: 1 tables, 2 rows")
    assert latest_checks(tmp_path)[(path.name, "verify")].ok


def test_verify_missing_file_exits_noinput(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.json.zst"

    exit_code = verify(str(path))

    assert exit_code == EX_NOINPUT == 66
    assert capsys.readouterr().out == f"NOT CHECKED {path}: file not found\n"
    assert not checks_path(tmp_path).exists()


def test_verify_directory_path_exits_noinput(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "daily_backup_20260302_020000.json.zst"
    directory.mkdir()

    exit_code = verify(str(directory))

    assert exit_code == EX_NOINPUT
    assert f"NOT CHECKED {directory}: cannot open: " in capsys.readouterr().out


def test_verify_damaged_file_names_path_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_backup(tmp_path, "daily", STARTED_AT, compression="none")
    truncate(path, keep_bytes=path.stat().st_size - 20)

    exit_code = verify(str(path))

    output = capsys.readouterr().out
    assert exit_code == EX_DATAERR
    assert output.startswith(f"FAILED {path}: line ")
    assert output.count(str(path)) == 1
    assert not latest_checks(tmp_path)[(path.name, "verify")].ok


def test_verify_damaged_and_missing_damaged_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = write_backup(tmp_path, "daily", STARTED_AT)
    truncate(damaged)

    exit_code = verify(str(tmp_path / "nope.json.zst"), str(damaged))

    lines = capsys.readouterr().out.splitlines()
    assert exit_code == EX_DATAERR
    assert lines[0].startswith("NOT CHECKED ")
    assert lines[1].startswith(f"FAILED {damaged}: ")
