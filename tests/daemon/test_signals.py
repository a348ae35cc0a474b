"""Signal handling of a real ``taskagent-backupd`` process: SIGHUP, SIGTERM, SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import connect_to
from tests.daemon.conftest import NotifySocket

DOWN_DSN = "postgresql://postgres@/nodb?host=/nonexistent&port=5432"


def _write_config(path: Path, directory: Path, daily: str) -> None:
    path.write_text(
        f'[database]\ndsn = "{DOWN_DSN}"\n[backup]\ndirectory = "{directory}"\n'
        f'[schedule]\ntimezone = "UTC"\ndaily = "{daily}"\n'
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A valid configuration whose database is down."""
    path = tmp_path / "config.toml"
    _write_config(path, tmp_path / "backups", "0 2 * * *")
    return path


@pytest.fixture
def daemon(config: Path, abstract_notify_socket: NotifySocket) -> Iterator[subprocess.Popen[str]]:
    """A daemon process that has sent READY=1 to the abstract notify socket."""
    environment = {**os.environ, "NOTIFY_SOCKET": abstract_notify_socket.name}
    environment.pop("JOURNAL_STREAM", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    abstract_notify_socket.receive_until("READY=1")
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_daemon_sighup_reload_reloading_then_ready(
    daemon: subprocess.Popen[str], config: Path, abstract_notify_socket: NotifySocket
) -> None:
    _write_config(config, config.parent / "backups", "17 3 * * *")
    daemon.send_signal(signal.SIGHUP)

    messages = abstract_notify_socket.receive_until("READY=1")
    status = abstract_notify_socket.receive_until("STATUS=")[-1]

    reloading = [message for message in messages if message.startswith("RELOADING=1")]
    assert len(reloading) == 1
    assert reloading[0].split("\n")[1].startswith("MONOTONIC_USEC=")
    assert "next daily" in status
    assert "03:17" in status


def test_daemon_sighup_invalid_config_keeps_running(
    daemon: subprocess.Popen[str], config: Path, abstract_notify_socket: NotifySocket
) -> None:
    config.write_text("[schedule]\ndaily = 'every night'\n")
    daemon.send_signal(signal.SIGHUP)

    abstract_notify_socket.receive_until("READY=1")
    status = abstract_notify_socket.receive_until("STATUS=")[-1]

    assert "configuration reload failed" in status
    assert daemon.poll() is None


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_daemon_stop_signal_exit_zero(
    daemon: subprocess.Popen[str], abstract_notify_socket: NotifySocket, number: int
) -> None:
    daemon.send_signal(number)

    abstract_notify_socket.receive_until("STOPPING=1")
    stdout, _stderr = daemon.communicate(timeout=30)

    assert daemon.returncode == 0
    events = [line for line in stdout.splitlines() if '"daemon_stopped"' in line]
    assert len(events) == 1


async def test_daemon_sigterm_during_backup_no_file_left(
    tmp_path: Path, taskagent_dsn: str, path_notify_socket: NotifySocket
) -> None:
    directory = tmp_path / "backups"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\ndsn = "{taskagent_dsn}"\nschemas = ["public", "auth"]\n'
        f'[backup]\ndirectory = "{directory}"\n[schedule]\ntimezone = "UTC"\n'
    )
    blocker = await connect_to(taskagent_dsn)
    transaction = blocker.transaction()
    await transaction.start()
    # The catch-up backup at start waits on this lock with its temporary file open.
    await blocker.execute("LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE")
    environment = {**os.environ, "NOTIFY_SOCKET": path_notify_socket.name}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "taskagent_backup.daemon_main", "--config", str(config),
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.to_thread(path_notify_socket.receive_until, "READY=1")
        await _wait_for_partial(directory)
        process.send_signal(signal.SIGTERM)
        stdout, _stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await transaction.rollback()
        await blocker.close()
        if process.returncode is None:
            process.kill()

    assert process.returncode == 0
    assert list(directory.glob(".*.partial")) == []
    assert [path.name for path in directory.glob("*_backup_*")] == []
    assert b'"backup_cancelled"' in stdout
    messages = path_notify_socket.drain()
    assert any(message.startswith("EXTEND_TIMEOUT_USEC=") for message in messages)
    assert "STOPPING=1" in messages


async def _wait_for_partial(directory: Path) -> None:
    for _attempt in range(1500):
        if directory.is_dir() and any(directory.glob(".*.partial")):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no temporary backup file appeared in {directory}")
