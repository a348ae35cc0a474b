"""Produced backups open with the standard tools: zstd, gunzip, age, jq."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyrage
import pytest

from taskagent_backup.atomic import PARTIAL_SUFFIX
from taskagent_backup.backup import run_backup
from taskagent_backup.catalog import scan_directory
from taskagent_backup.errors import AgeIdentityError, BackupFileError, ConfigError
from taskagent_backup.fileformat.decryption import open_decrypted
from taskagent_backup.fileformat.encryption import EncryptingSink
from taskagent_backup.fileformat.reader import read_backup
from taskagent_backup.settings import load_settings
from tests.conftest import NewDatabase, connect_to, make_settings

JQ_CHECK = (
    ".trailer.complete and "
    "(.tables.public.users.rows | length) == .tables.public.users.row_count"
)


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.skip(f"command-line tools not installed: {', '.join(missing)}")


def shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120
    )


def generate_key(directory: Path) -> tuple[Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(
        ["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return key, public


def threads_named(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def read_all_rows(path: Path, identities: list[Path] | None = None) -> int:
    reader = read_backup(path, identities)
    rows = 0
    for section in reader.tables():
        rows += sum(1 for _ in reader.rows(section))
    reader.stream.close()
    return rows


@pytest.mark.parametrize(
    ("compression", "suffix", "decompress"),
    [
        ("zstd", ".json.zst", "zstd -dc"),
        ("gzip", ".json.gz", "gunzip -c"),
        ("none", ".json", "cat"),
    ],
)
async def test_backup_opens_with_standard_tools(
    taskagent_dsn: str, tmp_path: Path, compression: str, suffix: str, decompress: str
) -> None:
    require_tools("zstd", "gunzip", "jq")
    settings = make_settings(taskagent_dsn, tmp_path, backup={"compression": compression})

    result = await run_backup(settings, "daily")

    assert result.path.name.endswith(suffix)
    checked = shell(f"{decompress} {result.path} | jq -e '{JQ_CHECK}'")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "true"
    assert read_all_rows(result.path) == result.rows


async def test_encrypted_backup_decrypts_with_age_cli(taskagent_dsn: str, tmp_path: Path) -> None:
    require_tools("age", "age-keygen", "zstd", "jq")
    key, public = generate_key(tmp_path)
    settings = make_settings(taskagent_dsn, tmp_path / "backups", backup={"encrypt_to": [public]})

    result = await run_backup(settings, "daily")

    assert result.path.name.endswith(".json.zst.age")
    assert result.path.read_bytes().startswith(b"age-encryption.org/v1\n")
    checked = shell(f"age -d -i {key} {result.path} | zstd -d | jq -e '{JQ_CHECK}'")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "true"
    assert read_all_rows(result.path, [key]) == result.rows


async def test_encrypted_backup_two_recipients(taskagent_dsn: str, tmp_path: Path) -> None:
    require_tools("age-keygen")
    first_key, first = generate_key(tmp_path / "first")
    second_key, second = generate_key(tmp_path / "second")
    settings = make_settings(taskagent_dsn, tmp_path / "backups",
                             backup={"encrypt_to": [first, second], "compression": "gzip"})

    result = await run_backup(settings, "manual")

    assert read_all_rows(result.path, [first_key]) == result.rows
    assert read_all_rows(result.path, [second_key]) == result.rows


async def test_encrypted_backup_catalog_without_key(taskagent_dsn: str, tmp_path: Path) -> None:
    require_tools("age-keygen")
    key, public = generate_key(tmp_path)
    directory = tmp_path / "backups"
    settings = make_settings(taskagent_dsn, directory, backup={"encrypt_to": [public]})
    result = await run_backup(settings, "daily")

    [sealed] = scan_directory(directory)
    [opened] = scan_directory(directory, [key])

    assert sealed.state == "encrypted"
    assert sealed.counts
    assert sealed.rows is None
    assert opened.state == "good"
    assert opened.rows == result.rows


async def test_catalog_wrong_identity_not_damaged(taskagent_dsn: str, tmp_path: Path) -> None:
    require_tools("age-keygen")
    _key, public = generate_key(tmp_path / "right")
    wrong_key, _public = generate_key(tmp_path / "wrong")
    directory = tmp_path / "backups"
    settings = make_settings(taskagent_dsn, directory, backup={"encrypt_to": [public]})
    await run_backup(settings, "daily")

    [with_wrong_key] = scan_directory(directory, [wrong_key])
    [later_without_key] = scan_directory(directory)

    assert with_wrong_key.state == "encrypted"
    assert "none of the given identities" in with_wrong_key.detail
    assert later_without_key.counts


def test_decrypt_wrong_or_missing_identity_fails(tmp_path: Path) -> None:
    require_tools("age-keygen")
    _key, public = generate_key(tmp_path / "right")
    wrong_key, _public = generate_key(tmp_path / "wrong")
    path = tmp_path / "manual_backup_20260301_020000.json.age"
    with path.open("wb") as stream:
        sink = EncryptingSink(stream, [public])
        sink.write(b"not even a backup\n")
        sink.close()

    with pytest.raises(AgeIdentityError, match="--identity"):
        read_backup(path)
    with pytest.raises(AgeIdentityError, match="none of the given identities"):
        read_backup(path, [wrong_key])


def test_decrypt_truncated_file_fails(tmp_path: Path) -> None:
    require_tools("age-keygen")
    key, public = generate_key(tmp_path)
    path = tmp_path / "manual_backup_20260301_020000.json.age"
    with path.open("wb") as stream:
        sink = EncryptingSink(stream, [public])
        for number in range(20_000):
            sink.write(b'["%d","row"]\n' % number)
        sink.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])

    with pytest.raises(BackupFileError, match=r"truncated|damaged"):
        read_backup(path, [key])


def test_invalid_recipient_is_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[backup]\nencrypt_to = ["age1notakey"]\n')

    with pytest.raises(ConfigError, match=r"backup\.encrypt_to"):
        load_settings(config)


def test_encrypting_sink_abort_stops_thread(tmp_path: Path) -> None:
    require_tools("age-keygen")
    _key, public = generate_key(tmp_path)
    with (tmp_path / "out.age").open("wb") as stream:
        sink = EncryptingSink(stream, [public])
        sink.write(b"x" * 100_000)
        sink.abort()

    assert threads_named("backup-encryption") == []


def test_encrypting_sink_reports_disk_full(tmp_path: Path) -> None:
    require_tools("age-keygen")
    _key, public = generate_key(tmp_path)

    class FullDisk:
        def write(self, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    sink = EncryptingSink(FullDisk(), [public])
    with pytest.raises(OSError) as caught:
        for _ in range(200):
            sink.write(b"y" * 65536)
        sink.close()

    assert caught.value.errno == 28
    sink.abort()


PEAK_MEMORY_SCRIPT = """
import resource, sys, pyrage
from taskagent_backup.fileformat.encryption import EncryptingSink

class Discard:
    def write(self, data):
        return len(data)

megabytes = int(sys.argv[1])
sink = EncryptingSink(Discard(), [str(pyrage.x25519.Identity.generate().to_public())])
block = b"z" * (1 << 20)
for _ in range(megabytes):
    sink.write(block)
sink.close()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kib(megabytes: int) -> int:
    output = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(megabytes)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    return int(output.strip().splitlines()[-1])


def test_encrypting_sink_memory_flat() -> None:
    small = peak_rss_kib(16)
    large = peak_rss_kib(512)

    # 32 times the data may cost queue buffers (8 chunks of 1 MiB), not a copy.
    assert large - small < 16 * 1024, f"peak RSS {small} KiB for 16 MiB, {large} KiB for 512 MiB"


DECRYPT_MEMORY_SCRIPT = """
import os, resource, sys, pyrage
from pathlib import Path
from taskagent_backup.fileformat.decryption import open_decrypted
from taskagent_backup.fileformat.encryption import EncryptingSink

directory, megabytes = Path(sys.argv[1]), int(sys.argv[2])
identity = pyrage.x25519.Identity.generate()
(directory / "key.txt").write_text(str(identity) + "\\n")
with (directory / "data.age").open("wb") as stream:
    sink = EncryptingSink(stream, [str(identity.to_public())])
    block = os.urandom(1 << 20)
    for _ in range(megabytes):
        sink.write(block)
    sink.close()
plain = open_decrypted((directory / "data.age").open("rb"), directory / "data.age",
                       [directory / "key.txt"])
total = 0
while chunk := plain.read(1 << 16):
    total += len(chunk)
assert total == megabytes << 20, total
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def decrypt_peak_rss_kib(directory: Path, megabytes: int) -> int:
    directory.mkdir()
    output = subprocess.run(
        [sys.executable, "-c", DECRYPT_MEMORY_SCRIPT, str(directory), str(megabytes)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    return int(output.strip().splitlines()[-1])


def test_decryption_memory_flat(tmp_path: Path) -> None:
    small = decrypt_peak_rss_kib(tmp_path / "small", 8)
    large = decrypt_peak_rss_kib(tmp_path / "large", 256)

    assert large - small < 16 * 1024, f"peak RSS {small} KiB for 8 MiB, {large} KiB for 256 MiB"


def test_decryption_closed_early_stops_thread(tmp_path: Path) -> None:
    require_tools("age-keygen")
    key, public = generate_key(tmp_path)
    path = tmp_path / "data.age"
    with path.open("wb") as stream:
        sink = EncryptingSink(stream, [public])
        for _ in range(64):
            sink.write(b"r" * (1 << 20))
        sink.close()

    plain = open_decrypted(path.open("rb"), path, [key])
    assert plain.read(10) == b"r" * 10
    assert threads_named("backup-decryption") != []
    plain.close()

    deadline = time.monotonic() + 5
    while threads_named("backup-decryption") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threads_named("backup-decryption") == []


async def test_cancelled_encrypted_backup_leaves_nothing(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    dsn = await new_database("cancelled")
    connection = await connect_to(dsn)
    try:
        await connection.execute(
            "CREATE TABLE bulky (id int PRIMARY KEY, body text);"
            "INSERT INTO bulky SELECT g, md5(random()::text) || md5(random()::text) "
            "FROM generate_series(1, 300000) g"
        )
    finally:
        await connection.close()
    public = str(pyrage.x25519.Identity.generate().to_public())
    settings = make_settings(dsn, tmp_path, database={"schemas": ["public"]},
                             backup={"encrypt_to": [public], "embed_schema": False})

    task = asyncio.create_task(run_backup(settings, "manual"))
    deadline = time.monotonic() + 30
    while not any(path.stat().st_size > 0 for path in tmp_path.glob(f".*{PARTIAL_SUFFIX}")):
        assert time.monotonic() < deadline, "the backup never started writing"
        assert not task.done(), "the backup finished before it could be cancelled"
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert [path.name for path in tmp_path.iterdir() if path.is_file()] == []
    assert threads_named("backup-encryption") == []
