"""End-to-end: the shipped unit file under a real systemd in systemd-nspawn.

The tests share one container and run in file order: start, reload, a
rejected reload, the journal, a watchdog restart, a manual run, and stop.  The service
runs the repository's virtualenv as its ``DynamicUser=`` and backs up a
throwaway PostgreSQL on the host, reached through a bind-mounted socket.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from taskagent_backup.dsn import parse_dsn
from taskagent_backup.pgserver import LocalServer, temporary_server
from tests.systemd.container import Container, booted_container, skip_reason

pytestmark = [
    pytest.mark.systemd,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

UNIT = "taskagent-backupd.service"
REPOSITORY = Path(__file__).resolve().parents[2]
UNIT_FILE = REPOSITORY / "deploy" / "systemd" / UNIT
SOCKET_DIRECTORY = "/srv/taskagent-e2e-pg"
CONFIG_DIRECTORY = "/etc/taskagent-backup"
STOP_FILE_NAME = "stop-watchdog"
WATCHDOG_SECONDS = 3
CONFIG_TEMPLATE = """\
[database]
dsn = "postgresql://postgres@/taskagent?host={socket}&port={port}"
password_credential = "db-password"
schemas = ["public", "auth"]

[schedule]
timezone = "UTC"
daily = "{daily}"
"""


def _service_unit() -> str:
    executable = Path(sys.prefix) / "bin" / "taskagent-backupd"
    lines = []
    for line in UNIT_FILE.read_text().splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={executable} --config {CONFIG_DIRECTORY}/config.toml"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _test_drop_in(base_prefix: Path) -> str:
    # The interpreter may live under /root (pyenv) and the checkout under
    # /root or /tmp, which the unit hides with ProtectHome=yes and
    # PrivateTmp=yes: bind both into the service's view, read-only.
    lines = [
        "[Service]",
        f"WatchdogSec={WATCHDOG_SECONDS}s",
        "RestartSec=1s",
        "Environment=TASKAGENT_BACKUPD_TEST_WATCHDOG_STOP_FILE="
        f"{CONFIG_DIRECTORY}/{STOP_FILE_NAME}",
    ]
    paths = [path for path in (base_prefix, REPOSITORY) if not str(path).startswith("/usr/")]
    if any(str(path).startswith(("/root", "/home")) for path in paths):
        lines.append("ProtectHome=tmpfs")
    if paths:
        lines.append("BindReadOnlyPaths=" + " ".join(str(path) for path in paths))
    return "\n".join(lines) + "\n"


def _write_readable(path: Path, text: str) -> None:
    # Other tests call entry points that set umask 077, so set the mode explicitly:
    # the service's dynamic user must read the config, and PID 1 the unit files.
    path.write_text(text)
    path.chmod(0o644)


def _write_config(directory: Path, server: LocalServer, daily: str) -> None:
    text = CONFIG_TEMPLATE.format(socket=SOCKET_DIRECTORY, port=server.port, daily=daily)
    _write_readable(directory / "config.toml", text)


async def _load_taskagent(server: LocalServer) -> None:
    from taskagent_backup.demo.sample_data import load_demo_database

    admin = await asyncpg.connect(**parse_dsn(server.dsn()).connect_kwargs())
    try:
        await admin.execute('CREATE DATABASE "taskagent"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(**parse_dsn(server.dsn("taskagent")).connect_kwargs())
    try:
        await load_demo_database(connection, users=3)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def e2e_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the unit, its test drop-in, the preset and the config."""
    root = tmp_path_factory.mktemp("systemd-e2e")
    for directory in ("units", f"units/{UNIT}.d", "preset", "etc"):
        (root / directory).mkdir(mode=0o755)
        (root / directory).chmod(0o755)
    _write_readable(root / "units" / UNIT, _service_unit())
    _write_readable(root / "units" / f"{UNIT}.d" / "e2e.conf", _test_drop_in(Path(sys.base_prefix)))
    _write_readable(root / "preset" / "00-taskagent-e2e.preset", f"enable {UNIT}\ndisable *\n")
    # LoadCredential= reads the file as root, so it may stay private.
    (root / "etc" / "db-password").write_text("unused-with-trust-auth\n")
    return root


@pytest.fixture(scope="module")
def e2e_server(e2e_files: Path) -> Iterator[LocalServer]:
    """A PostgreSQL server on the host with the TaskAgent sample database."""
    with temporary_server() as server:
        asyncio.run(_load_taskagent(server))
        _write_config(e2e_files / "etc", server, "0 2 * * *")
        yield server


@pytest.fixture(scope="module")
def container(e2e_files: Path, e2e_server: LocalServer) -> Iterator[Container]:
    """A booted container whose only enabled unit is the backup daemon."""
    binds = [
        (REPOSITORY, str(REPOSITORY), True),
        (Path(sys.base_prefix), str(sys.base_prefix), True),
        (e2e_server.socket_directory, SOCKET_DIRECTORY, False),
        (e2e_files / "etc", CONFIG_DIRECTORY, False),
        (e2e_files / "units" / UNIT, f"/etc/systemd/system/{UNIT}", True),
        (e2e_files / "units" / f"{UNIT}.d", f"/etc/systemd/system/{UNIT}.d", True),
        (e2e_files / "preset", "/etc/systemd/system-preset", True),
    ]
    with booted_container(binds, e2e_files) as booted:
        yield booted


def _events(container: Container, *arguments: str) -> list[dict[str, object]]:
    lines = container.journal(f"_SYSTEMD_UNIT={UNIT}", *arguments)
    return [json.loads(line) for line in lines]


def _has_event(container: Container, event: str, **fields: object) -> bool:
    for entry in _events(container):
        if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
            return True
    return False


def test_service_start_becomes_active(container: Container) -> None:
    container.wait_until(
        lambda: container.show(UNIT, "ActiveState") == "active", 30, "the unit to be active"
    )
    container.wait_until(
        lambda: _has_event(container, "backup_finished", kind="daily")
        and _has_event(container, "backup_finished", kind="weekly"),
        60, "the catch-up daily and weekly backups",
    )
    status = container.show(UNIT, "StatusText")
    assert "last daily OK" in status
    assert "next daily" in status


def test_reload_changed_schedule_applied(container: Container, e2e_files: Path,
                                         e2e_server: LocalServer) -> None:
    _write_config(e2e_files / "etc", e2e_server, "17 3 * * *")
    result = container.systemctl("reload", UNIT)

    assert result.returncode == 0, result.stderr
    container.wait_until(
        lambda: "03:17" in container.show(UNIT, "StatusText"), 15, "the new daily time in STATUS"
    )
    assert _has_event(container, "config_reloaded", daily="17 3 * * *")
    assert container.show(UNIT, "ActiveState") == "active"


def test_reload_invalid_config_one_error(container: Container, e2e_files: Path,
                                         e2e_server: LocalServer) -> None:
    _write_config(e2e_files / "etc", e2e_server, "99 99 * * *")
    container.systemctl("reload", UNIT)
    container.wait_until(
        lambda: "reload failed" in container.show(UNIT, "StatusText"), 15,
        "STATUS to report the rejected configuration",
    )

    errors = container.journal("-p", "err", "-u", UNIT)
    assert len(errors) == 1, errors
    assert json.loads(errors[0])["event"] == "config_reload_failed"
    assert container.show(UNIT, "ActiveState") == "active"
    assert "03:17" in container.show(UNIT, "StatusText")

    _write_config(e2e_files / "etc", e2e_server, "17 3 * * *")
    container.systemctl("reload", UNIT)
    container.wait_until(
        lambda: "reload failed" not in container.show(UNIT, "StatusText"), 15,
        "STATUS to clear the reload failure",
    )


def test_journal_every_line_is_json(container: Container) -> None:
    lines = container.journal(f"_SYSTEMD_UNIT={UNIT}")

    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"event", "level", "timestamp"} <= entry.keys(), line
    assert not any("unused-with-trust-auth" in line for line in lines)
    if shutil.which("jq") is not None:
        piped = container.run(
            "sh", "-c", f"journalctl _SYSTEMD_UNIT={UNIT} -o cat | jq -e . > /dev/null"
        )
        assert piped.returncode == 0, piped.stderr


def test_watchdog_silence_restarts_service(container: Container, e2e_files: Path) -> None:
    first_pid = container.show(UNIT, "MainPID")
    stop_file = e2e_files / "etc" / STOP_FILE_NAME
    _write_readable(stop_file, "")
    try:
        container.wait_until(
            lambda: container.show(UNIT, "MainPID") not in (first_pid, "0"),
            WATCHDOG_SECONDS * 2 + 15, "systemd to restart the silent service",
        )
    finally:
        stop_file.unlink()

    assert container.show(UNIT, "NRestarts") == "1"
    assert any("watchdog" in line.lower() for line in container.journal("-u", UNIT))
    container.wait_until(
        lambda: container.show(UNIT, "ActiveState") == "active", 30, "the restarted unit"
    )


def test_manual_run_as_service_user_succeeds(container: Container) -> None:
    executable = Path(sys.prefix) / "bin" / "taskagent-backupd"
    drop_in = _test_drop_in(Path(sys.base_prefix)).splitlines()
    bind = [f"--property={line}" for line in drop_in if line.startswith("BindReadOnlyPaths=")]
    home = [f"--property={line}" for line in drop_in if line.startswith("ProtectHome=")]

    result = container.run(
        "systemd-run", "--wait", "--pipe", "--quiet",
        "--property=DynamicUser=yes", "--property=User=taskagent-backupd",
        "--property=StateDirectory=taskagent-backup",
        f"--property=LoadCredential=db-password:{CONFIG_DIRECTORY}/db-password",
        *home, *bind,
        str(executable), "--config", f"{CONFIG_DIRECTORY}/config.toml", "--run-now",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    listing = container.run("ls", "-ln", "/var/lib/private/taskagent-backup").stdout
    assert "manual_backup_" in listing
    owners = {line.split()[2] for line in listing.splitlines() if "_backup_" in line}
    assert len(owners) == 1, listing


def test_stop_exits_cleanly(container: Container) -> None:
    result = container.systemctl("stop", UNIT)

    assert result.returncode == 0, result.stderr
    assert container.show(UNIT, "ActiveState") == "inactive"
    assert container.show(UNIT, "Result") == "success"
    assert container.show(UNIT, "ExecMainStatus") == "0"
    assert _has_event(container, "daemon_stopped")
