"""A killed backup leaves no backup file; memory does not grow with table size."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskagent_backup.atomic import PARTIAL_SUFFIX
from taskagent_backup.naming import parse_backup_file_name
from tests.conftest import NewDatabase, connect_to

PEAK_MEMORY_SCRIPT = """
import asyncio, resource, sys
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import load_settings
asyncio.run(run_once(load_settings(__import__('pathlib').Path(sys.argv[1])), 'manual'))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


async def create_big_table(new_database: NewDatabase, rows: int) -> str:
    dsn = await new_database("big")
    connection = await connect_to(dsn)
    try:
        await connection.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, body text, amount numeric(12, 2), "
            "at timestamptz);"
            f"INSERT INTO big SELECT g, repeat(md5(g::text), 4), g / 7.0, "
            f"timestamptz '2025-01-01' + g * interval '1 second' FROM generate_series(1, {rows}) g"
        )
    finally:
        await connection.close()
    return dsn


def write_config(tmp_path: Path, dsn: str, directory: Path, compression: str = "zstd") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\ndsn = "{dsn}"\n'
        f'[backup]\ndirectory = "{directory}"\ncompression = "{compression}"\n'
        "embed_schema = false\n"
        '[logging]\nlevel = "warning"\n'
    )
    return config


def backup_names(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if parse_backup_file_name(p.name)]


@pytest.mark.slow
async def test_sigkill_during_backup_leaves_no_backup_file(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    dsn = await create_big_table(new_database, 1_500_000)
    directory = tmp_path / "backups"
    config = write_config(tmp_path, dsn, directory, compression="none")
    command = [sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config),
               "--run-now"]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while time.monotonic() < deadline and not partial:
        partial = [p for p in directory.glob(f".*{PARTIAL_SUFFIX}") if p.stat().st_size > 1 << 20]
        time.sleep(0.02)
    assert partial, "the backup never started writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert backup_names(directory) == []

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert len(backup_names(directory)) == 1
    assert list(directory.glob(f".*{PARTIAL_SUFFIX}")) == []


def peak_rss_kib(config: Path) -> int:
    output = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(config)],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout
    return int(output.strip().splitlines()[-1])


@pytest.mark.slow
async def test_peak_memory_does_not_grow_with_table_size(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    small_dsn = await create_big_table(new_database, 50_000)
    large_dsn = await create_big_table(new_database, 1_000_000)

    small = peak_rss_kib(write_config(tmp_path / "small", small_dsn, tmp_path / "small-out"))
    large = peak_rss_kib(write_config(tmp_path / "large", large_dsn, tmp_path / "large-out"))

    print(f"peak RSS: {small} KiB at 50k rows, {large} KiB at 1M rows")
    # 20x the rows (about 190 MB of JSON) may cost buffers, not a copy of the table.
    assert large - small < 24 * 1024, f"peak RSS {small} KiB for 50k rows, {large} KiB for 1M"
    assert large < 100 * 1024
