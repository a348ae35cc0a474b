"""``verify_backup`` accepts a good file and rejects damaged ones with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import zstandard

from taskagent_backup.checks import latest_checks
from taskagent_backup.errors import BackupFileError
from taskagent_backup.verify import verify_and_record, verify_backup
from tests.conftest import FIXTURES
from tests.restore.helpers import back_up

PLAIN = {"backup": {"compression": "none"}}


async def test_verify_good_file_passes_and_records(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)

    result = verify_and_record(path)

    assert len(result.tables) == 14
    assert result.rows == 897
    record = latest_checks(tmp_path)[(path.name, "verify")]
    assert record.ok


async def test_verify_truncated_zstd_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(BackupFileError) as caught:
        verify_and_record(path)

    assert "truncated" in str(caught.value)
    assert not latest_checks(tmp_path)[(path.name, "verify")].ok


async def test_verify_truncated_plain_names_line(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:40]))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "line 41" in str(caught.value)
    assert "truncated" in str(caught.value)


async def test_verify_edited_value_names_table(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    text = path.read_bytes()
    path.write_bytes(text.replace(b"user3@example.com", b"user9@example.com", 1))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "auth.users" in str(caught.value)
    assert "SHA-256" in str(caught.value)


async def test_verify_edited_compressed_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path)
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    edited = plain.replace(b'"Ship the first version"', b'"Ship the final version"', 1)
    path.write_bytes(zstandard.ZstdCompressor().compress(edited))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "public.goals" in str(caught.value)


async def test_verify_wrong_version_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    text = path.read_bytes()
    path.write_bytes(text.replace(b'"format_version":1', b'"format_version":7', 1))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "format version 7 is not supported" in str(caught.value)


async def test_verify_manifest_mismatch_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"auth.users":{"rows":5', b'"auth.users":{"rows":6', 1)
    path.write_bytes(b"".join(lines))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "trailer: table auth.users: the manifest records 6 rows" in str(caught.value)


async def test_verify_row_with_wrong_width_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(b'["') and b"user" in line)
    lines[index] = lines[index].replace(b'",', b'","extra",', 1)
    path.write_bytes(b"".join(lines))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "does not have 3 values" in str(caught.value)


def test_verify_legacy_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "legacy.json"
    shutil.copy(FIXTURES / "legacy-backup-v1.json", path)

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "not a taskagent-backup file" in str(caught.value)


async def test_verify_trailing_comma_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(b"],")) - 1
    lines[index] = lines[index].replace(b"]\n", b"],\n")
    path.write_bytes(b"".join(lines))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "the last row ends with a comma" in str(caught.value)


async def test_verify_missing_comma_fails(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await back_up(taskagent_dsn, tmp_path, **PLAIN)
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.endswith(b"],\n"))
    lines[index] = lines[index].replace(b"],\n", b"]\n")
    path.write_bytes(b"".join(lines))

    with pytest.raises(BackupFileError) as caught:
        verify_backup(path)

    assert "the comma after the previous row is missing" in str(caught.value)
