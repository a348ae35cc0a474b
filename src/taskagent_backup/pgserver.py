"""A throwaway PostgreSQL server in a temporary directory, for the demo and tests.

The server listens only on a Unix socket inside its own data directory and
trusts local connections.  PostgreSQL refuses to run as root, so when this
process is root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60


class ServerError(RuntimeError):
    """The throwaway server could not be created or started."""


def find_bin_directory() -> Path:
    """Return the directory of the newest installed PostgreSQL server binaries.

    Raises ``ServerError`` telling how to install them when none is found.
    """
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if candidates:
        newest = max(candidates, key=lambda path: int(re.findall(r"/(\d+)/bin", path)[0]))
        return Path(newest).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServerError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found; "
        "install them with: apt-get install postgresql"
    )


@dataclass
class LocalServer:
    """A running throwaway server; ``dsn(database)`` connects to it."""

    base_directory: Path
    bin_directory: Path
    port: int
    run_as: str | None

    @property
    def data_directory(self) -> Path:
        return self.base_directory / "data"

    @property
    def socket_directory(self) -> Path:
        # Outside the data directory (mode 0700) so other local users, such
        # as a service's dynamic user, can reach the socket.
        return self.base_directory

    def dsn(self, database: str = "postgres") -> str:
        """Return a DSN that reaches ``database`` over the Unix socket."""
        return (
            f"postgresql://{SUPERUSER}@/{database}?host={self.socket_directory}&port={self.port}"
        )

    def run(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary as the server's user."""
        command = [str(self.bin_directory / arguments[0]), *arguments[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode`` is pg_ctl's (smart, fast, immediate)."""
        self.run("pg_ctl", "-D", str(self.data_directory), "-m", mode, "-w", "stop", check=False)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log_file = self.data_directory / "server.log"
        result = self.run(
            "pg_ctl", "-D", str(self.data_directory), "-l", str(log_file),
            "-t", str(START_TIMEOUT_SECONDS), "-w", "start", check=False,
        )
        if result.returncode != 0:
            log_text = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise ServerError(f"PostgreSQL did not start: {result.stderr}\n{log_text}")


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError as error:
        raise ServerError(
            "running as root needs the 'postgres' system user to run the server; "
            "install PostgreSQL with apt-get install postgresql"
        ) from error
    return SUPERUSER


def create_server(parent: Path | None = None, port: int = 5432) -> LocalServer:
    """initdb a new cluster in a fresh temporary directory and start it."""
    bin_directory = find_bin_directory()
    run_as = _server_user()
    base_directory = Path(tempfile.mkdtemp(prefix="taskagent-pg-", dir=parent))
    base_directory.chmod(0o755)
    data_directory = base_directory / "data"
    data_directory.mkdir(mode=0o700)
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(base_directory, entry.pw_uid, entry.pw_gid)
        os.chown(data_directory, entry.pw_uid, entry.pw_gid)
    server = LocalServer(base_directory, bin_directory, port, run_as)
    result = server.run(
        "initdb", "-D", str(data_directory), "-U", SUPERUSER, "--auth=trust",
        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", check=False,
    )
    if result.returncode != 0:
        raise ServerError(f"initdb failed: {result.stderr.strip()}")
    settings = (
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{base_directory}'\n"
        f"port = {port}\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        "max_connections = 50\n"
    )
    with (data_directory / "postgresql.conf").open("a") as conf:
        conf.write(settings)
    server.start()
    return server


@contextlib.contextmanager
def temporary_server(parent: Path | None = None) -> Iterator[LocalServer]:
    """Run a throwaway server for the duration of the ``with`` block."""
    server = create_server(parent)
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.base_directory, ignore_errors=True)


def wait_until_ready(server: LocalServer, timeout_seconds: float = 30) -> None:
    """Wait until the server accepts connections."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        result = server.run(
            "pg_isready", "-h", str(server.socket_directory), "-p", str(server.port), check=False
        )
        if result.returncode == 0:
            return
        time.sleep(0.1)
    raise ServerError("PostgreSQL did not become ready in time")
