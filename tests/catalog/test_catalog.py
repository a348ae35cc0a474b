"""The catalog: states, index and check records, read from the files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from taskagent_backup import catalog
from taskagent_backup.catalog import (
    AGE_CHUNK_BYTES,
    age_payload_plausible,
    index_path,
    newest_good,
    scan_directory,
)
from taskagent_backup.checks import record_check
from tests.catalog.backup_files import at, sha256_of, touch_now, truncate, write_backup
from tests.conftest import FIXTURES


def test_catalog_good_backup_read_from_file(tmp_path: Path) -> None:
    path = write_backup(tmp_path, "weekly", at("2026-03-02 01:00"))

    [entry] = scan_directory(tmp_path)

    assert entry.state == "good"
    assert entry.kind == "weekly"
    assert entry.started_at == at("2026-03-02 01:00")
    assert entry.tables == 1
    assert entry.rows == 2
    assert entry.sha256 == sha256_of(path)
    assert entry.counts


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_catalog_truncated_backup_damaged(tmp_path: Path, compression: str) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"), compression=compression)
    truncate(path, keep_bytes=path.stat().st_size - 5)

    [entry] = scan_directory(tmp_path)

    assert entry.state == "damaged"
    assert not entry.counts
    assert str(path) in entry.detail


def test_catalog_edited_row_damaged(tmp_path: Path) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"), compression="none")
    path.write_bytes(path.read_bytes().replace(b"alice@example.com", b"mallory@example.com"))

    [entry] = scan_directory(tmp_path)

    assert entry.state == "damaged"
    assert "SHA-256" in entry.detail


def test_catalog_incomplete_trailer_damaged(tmp_path: Path) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"), compression="none")
    path.write_bytes(path.read_bytes().replace(b'"complete":true', b'"complete":false'))

    [entry] = scan_directory(tmp_path)

    assert entry.state == "damaged"


def test_catalog_legacy_backup_foreign(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "legacy-backup-v1.json", tmp_path / "daily_backup_20250101_020000.json")
    (tmp_path / "README.txt").write_text("backups live here\n")

    [entry] = scan_directory(tmp_path)

    assert entry.state == "foreign"
    assert not entry.counts


def test_catalog_time_from_name_not_mtime(tmp_path: Path) -> None:
    write_backup(tmp_path, "daily", at("2021-06-01 02:00"))
    touch_now(tmp_path)

    [entry] = scan_directory(tmp_path)

    assert entry.started_at == at("2021-06-01 02:00")


def test_catalog_index_reused_until_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    scan_directory(tmp_path)
    reads: list[str] = []
    original = catalog._read_entry

    def counting_read(*arguments: object) -> object:
        reads.append(str(arguments[0]))
        return original(*arguments)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "_read_entry", counting_read)

    scan_directory(tmp_path)
    assert reads == []

    os.utime(path, ns=(1, 1))
    scan_directory(tmp_path)
    assert reads == [str(path)]


def test_catalog_damaged_index_rebuilt(tmp_path: Path) -> None:
    write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    scan_directory(tmp_path)
    index_path(tmp_path).write_text("{not json")

    [entry] = scan_directory(tmp_path)

    assert entry.state == "good"
    assert index_path(tmp_path).read_text().startswith('{"version":1')


def test_catalog_index_lies_only_until_stat_changes(tmp_path: Path) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"), compression="none")
    scan_directory(tmp_path)
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"alice", b"alicf"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))

    [entry] = scan_directory(tmp_path)

    assert entry.state == "damaged"


def test_catalog_check_records_shown(tmp_path: Path) -> None:
    verified = write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    drilled = write_backup(tmp_path, "daily", at("2026-03-03 02:00"))
    record_check(verified, "verify", ok=True)
    record_check(drilled, "verify", ok=True)
    record_check(drilled, "drill", ok=True)

    first, second = scan_directory(tmp_path)

    assert (first.verified, first.drilled) == (True, None)
    assert (second.verified, second.drilled) == (True, True)


def test_catalog_check_of_other_size_ignored(tmp_path: Path) -> None:
    path = write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    record_check(path, "verify", ok=True)
    with path.open("ab") as stream:
        stream.write(b"x")

    [entry] = scan_directory(tmp_path)

    assert entry.verified is None


def test_newest_good_skips_damaged(tmp_path: Path) -> None:
    good = write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    truncate(write_backup(tmp_path, "daily", at("2026-03-03 02:00")))

    entry = newest_good(scan_directory(tmp_path), "daily")

    assert entry is not None
    assert entry.name == good.name


def test_catalog_missing_directory_empty(tmp_path: Path) -> None:
    assert scan_directory(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("payload", "plausible"),
    [
        (16 + 16 + 1, True),
        (16 + AGE_CHUNK_BYTES, True),
        (16 + AGE_CHUNK_BYTES + 17, True),
        (16 + AGE_CHUNK_BYTES + 10, False),
        (16 + 16, False),
        (10, False),
    ],
)
def test_age_payload_plausible_cases(payload: int, plausible: bool) -> None:
    assert age_payload_plausible(payload) is plausible


def test_catalog_index_not_created_in_foreign_directory(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a directory's owner needs root")
    write_backup(tmp_path, "daily", at("2026-03-02 02:00"))
    os.chown(tmp_path, 65534, 65534)

    [entry] = scan_directory(tmp_path)

    assert entry.state == "good"
    assert not index_path(tmp_path).parent.exists()
