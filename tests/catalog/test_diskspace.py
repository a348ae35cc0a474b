"""Free-space check before a run, and a disk that fills during one."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyrage
import pytest

from taskagent_backup.atomic import PARTIAL_SUFFIX
from taskagent_backup.backup import run_backup
from taskagent_backup.diskspace import (
    DATABASE_SIZE_TO_BACKUP_RATIO,
    ensure_free_space,
    estimate_space,
    newest_backup_size,
)
from taskagent_backup.errors import EX_CANTCREAT, DiskSpaceError
from tests.catalog.backup_files import at, sha256_of, write_backup
from tests.conftest import NewDatabase, connect_to, make_settings

TMPFS_SIZE = "2m"


def test_newest_backup_size_by_name_not_mtime(tmp_path: Path) -> None:
    write_backup(tmp_path, "daily", at("2026-03-01 02:00"))
    newest = write_backup(tmp_path, "daily", at("2026-03-02 02:00"), compression="none")
    write_backup(tmp_path, "weekly", at("2026-03-05 02:00"))
    os.utime(newest, ns=(1, 1))

    assert newest_backup_size(tmp_path, "daily") == (newest.name, newest.stat().st_size)
    assert newest_backup_size(tmp_path, "manual") is None


async def test_estimate_from_previous_backup(tmp_path: Path) -> None:
    previous = write_backup(tmp_path, "daily", at("2026-03-01 02:00"))
    settings = make_settings("postgresql://app@/db?host=/nonexistent", tmp_path)

    estimate = await estimate_space(settings, "daily")

    assert estimate.estimated_bytes == previous.stat().st_size
    assert previous.name in estimate.source


async def test_estimate_from_database_size(taskagent_dsn: str, tmp_path: Path) -> None:
    settings = make_settings(taskagent_dsn, tmp_path)
    connection = await connect_to(taskagent_dsn)
    try:
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()

    estimate = await estimate_space(settings, "daily")

    assert estimate.estimated_bytes == size // DATABASE_SIZE_TO_BACKUP_RATIO
    assert estimate.source.startswith("database size")


async def test_reserve_not_left_raises_before_run(taskagent_dsn: str, tmp_path: Path) -> None:
    existing = write_backup(tmp_path, "daily", at("2026-03-01 02:00"))
    free_mib = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    settings = make_settings(taskagent_dsn, tmp_path,
                             backup={"free_space_reserve_mb": free_mib + 1024})

    with pytest.raises(DiskSpaceError, match="free_space_reserve_mb") as caught:
        await run_backup(settings, "daily")

    assert caught.value.exit_code == EX_CANTCREAT == 73
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [existing.name]


async def test_reserve_left_passes(tmp_path: Path) -> None:
    write_backup(tmp_path, "daily", at("2026-03-01 02:00"))
    settings = make_settings("postgresql://app@/db?host=/nonexistent", tmp_path,
                             backup={"free_space_reserve_mb": 0})

    estimate = await ensure_free_space(settings, "daily")

    assert estimate.free_after_bytes() >= 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``TMPFS_SIZE`` mounted for the test; needs root."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


async def incompressible_database(new_database: NewDatabase) -> str:
    dsn = await new_database("bulky")
    connection = await connect_to(dsn)
    try:
        # About 7 MB of random hex: larger than the tmpfs even after zstd.
        await connection.execute(
            "CREATE TABLE bulky (id int PRIMARY KEY, body text);"
            "INSERT INTO bulky SELECT g, md5(random()::text) || md5(random()::text) "
            "FROM generate_series(1, 100000) g"
        )
    finally:
        await connection.close()
    return dsn


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain", "age"])
async def test_disk_full_removes_temp_keeps_backups(
    new_database: NewDatabase, small_disk: Path, encrypt: bool
) -> None:
    dsn = await incompressible_database(new_database)
    existing = write_backup(small_disk, "daily", at("2026-03-01 02:00"))
    digest = sha256_of(existing)
    backup: dict[str, object] = {"free_space_reserve_mb": 0}
    if encrypt:
        backup["encrypt_to"] = [str(pyrage.x25519.Identity.generate().to_public())]
    settings = make_settings(dsn, small_disk, database={"schemas": ["public"]}, backup=backup)

    with pytest.raises(DiskSpaceError, match="temporary file was removed"):
        await run_backup(settings, "daily")

    assert list(small_disk.glob(f".*{PARTIAL_SUFFIX}")) == []
    assert sorted(path.name for path in small_disk.iterdir() if path.is_file()) == [existing.name]
    assert sha256_of(existing) == digest
