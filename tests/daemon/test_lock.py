"""The backup lock across processes, including a holder killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskagent_backup.errors import EX_TEMPFAIL, LockHeldError
from taskagent_backup.lock import backup_lock, lock_path

HOLDER_SCRIPT = """
import sys, time
from pathlib import Path
from taskagent_backup.lock import backup_lock
with backup_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the backup lock of ``tmp_path``."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    yield process
    process.kill()
    process.wait()


def test_backup_lock_held_elsewhere_raises_with_pid(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockHeldError) as caught, backup_lock(tmp_path):
        pass

    assert caught.value.pid == lock_holder.pid
    assert caught.value.exit_code == EX_TEMPFAIL
    assert f"another backup is running (pid {lock_holder.pid})" in str(caught.value)


def test_backup_lock_killed_holder_not_blocking(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait()

    with backup_lock(tmp_path) as path:
        assert path == lock_path(tmp_path)
        assert path.read_text().strip().isdigit()


def test_backup_lock_released_after_block(tmp_path: Path) -> None:
    with backup_lock(tmp_path):
        pass

    with backup_lock(tmp_path):
        pass
    assert lock_path(tmp_path).stat().st_mode & 0o777 == 0o600


def test_backup_lock_missing_directory_created(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "backups"

    with backup_lock(directory):
        assert directory.is_dir()


def test_run_now_lock_held_exit_75(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{tmp_path}"\n')

    result = subprocess.run(
        [sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config),
         "--run-now"],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == EX_TEMPFAIL
    assert f"another backup is running (pid {lock_holder.pid})" in result.stderr
