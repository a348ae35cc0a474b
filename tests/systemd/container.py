"""A throwaway systemd booted with ``systemd-nspawn --volatile=yes -D /`` for tests.

The container runs the host's own ``/usr`` with an empty, in-memory ``/etc``
and ``/var``.  A preset file enables only the unit under test, so no other
host service starts.  It has no network (``--private-network``); the
PostgreSQL socket directory, the repository and the test's files are bind
mounts.  Commands run inside with ``nsenter`` into the container's pid 1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

BOOT_TIMEOUT_SECONDS = 60
POWEROFF_TIMEOUT_SECONDS = 30


def skip_reason() -> str | None:
    """Return why the container cannot run here, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "needs root to run systemd-nspawn"
    if shutil.which("systemd-nspawn") is None:
        return "systemd-nspawn not installed (apt-get install systemd-container)"
    if shutil.which("nsenter") is None:
        return "nsenter not installed (util-linux)"
    return None


def own_cgroup(name: str) -> Path:
    """Return a fresh cgroup for the container's launcher, under systemd's hierarchy.

    systemd-nspawn with ``--keep-unit`` boots the container in the cgroup of
    the process that starts it, so that process must sit in a cgroup of its
    own that the container's systemd can manage.
    """
    named = Path("/sys/fs/cgroup/systemd")
    root = named if (named / "cgroup.procs").exists() else Path("/sys/fs/cgroup")
    path = root / name
    path.mkdir(exist_ok=True)
    return path


class Container:
    """A booted container; ``run`` executes a command inside it."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def leader(self) -> int:
        """The host pid of the container's systemd (its pid 1)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = children.read_text().split()
        if not pids:
            raise RuntimeError(f"container not started; see {self.log_path}")
        return int(pids[0])

    def run(self, *command: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in every namespace of the container."""
        return subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", *command],
            capture_output=True, text=True, check=check, timeout=60,
        )

    def systemctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``systemctl`` inside the container."""
        return self.run("systemctl", "--no-pager", *arguments)

    def show(self, unit: str, prop: str) -> str:
        """Return one property of ``unit``, e.g. ``show(unit, "StatusText")``."""
        return self.systemctl("show", "--value", "-p", prop, unit).stdout.strip()

    def journal(self, *arguments: str) -> list[str]:
        """Return the lines ``journalctl -o cat`` prints for ``arguments``."""
        result = self.run("journalctl", "--no-pager", "-o", "cat", *arguments)
        return [line for line in result.stdout.splitlines() if line.strip()]

    def wait_until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        """Poll ``condition`` every 0.2 s; raise ``AssertionError`` naming ``what`` on timeout."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@contextlib.contextmanager
def booted_container(
    binds: list[tuple[Path, str, bool]], work_directory: Path
) -> Iterator[Container]:
    """Boot a container with ``binds`` (host path, container path, read-only) and yield it.

    Powers the container off on exit and kills it when that takes longer
    than ``POWEROFF_TIMEOUT_SECONDS``.
    """
    cgroup = own_cgroup(f"taskagent-e2e-{os.getpid()}")
    options = [
        f"--bind-ro={host}:{inside}" if read_only else f"--bind={host}:{inside}"
        for host, inside, read_only in binds
    ]
    command = [
        "systemd-nspawn", "--quiet", "--volatile=yes", "-D", "/", "-b", "--keep-unit",
        "--register=no", "--private-network", *options, "systemd.firstboot=off",
    ]
    log_path = work_directory / "container.log"
    launcher = f'echo $$ > {cgroup}/cgroup.procs && exec "$@"'
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            ["sh", "-c", launcher, "sh", *command],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    container = Container(process, log_path)
    try:
        _wait_for_boot(container)
        yield container
    finally:
        _power_off(container)
        with contextlib.suppress(OSError):
            cgroup.rmdir()


def _wait_for_boot(container: Container) -> None:
    def booted() -> bool:
        if container.process.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited; see {container.log_path}")
        try:
            state = container.run("systemctl", "is-system-running").stdout.strip()
        except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired):
            return False
        return state in ("running", "degraded")

    container.wait_until(booted, BOOT_TIMEOUT_SECONDS, "the container to boot")


def _power_off(container: Container) -> None:
    if container.process.poll() is not None:
        return
    # On SIGTERM, systemd-nspawn shuts the container down cleanly.
    container.process.send_signal(signal.SIGTERM)
    try:
        container.process.wait(POWEROFF_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        container.process.kill()
        container.process.wait()
