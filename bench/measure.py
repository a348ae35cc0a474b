"""Run one command and measure its wall time and peak memory.

Peak memory is the maximum resident set size that GNU time
(``/usr/bin/time -f %M``) reports for the command.  On Linux that covers
the command and every descendant it waited for, such as the pg_dump that
our backup starts.  It is the peak of the largest single process, not the
sum of the tree, and the PostgreSQL server's own memory is not part of it.

GNU time sits between this process and the command on purpose.  Linux
counts the memory of a forked child before ``exec`` in its peak.  A command
forked straight from this Python process would therefore report at least
this process's own size (about 65 MB), even for a small C program.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OUTPUT_TAIL_CHARS = 2000
GNU_TIME = Path("/usr/bin/time")


@dataclass
class Measurement:
    """Wall time, peak memory and outcome of one finished command."""

    command: list[str]
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> dict[str, object]:
        """Return the measurement as JSON-ready values, with the output's tail."""
        return {
            "command": " ".join(self.command),
            "seconds": round(self.seconds, 2),
            "max_rss_mb": round(self.max_rss_mb, 1),
            "returncode": self.returncode,
            "stderr_tail": self.stderr[-OUTPUT_TAIL_CHARS:],
        }


def run_measured(
    command: Sequence[str], scratch: Path, environment: Mapping[str, str] | None = None
) -> Measurement:
    """Run ``command`` to completion and return its time and peak RSS.

    Standard input is empty.  Standard output and error go to files in
    ``scratch``, so a chatty child cannot block on a full pipe, and are
    read back afterwards.  Raises ``FileNotFoundError`` when GNU time is
    not installed (Debian package ``time``).
    """
    if not GNU_TIME.exists():
        raise FileNotFoundError(f"{GNU_TIME} is missing; install it with: apt-get install time")
    scratch.mkdir(parents=True, exist_ok=True)
    rss_path = scratch / "max_rss_kb.txt"
    stdout_path = scratch / "stdout.txt"
    stderr_path = scratch / "stderr.txt"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        returncode = subprocess.run(
            [str(GNU_TIME), "-f", "%M", "-o", str(rss_path), *command],
            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, check=False,
            env=dict(environment) if environment is not None else None,
        ).returncode
        seconds = time.perf_counter() - started

    return Measurement(
        command=list(command),
        seconds=seconds,
        max_rss_mb=_read_max_rss_kb(rss_path) / 1024,
        returncode=returncode,
        stdout=stdout_path.read_text(errors="replace"),
        stderr=stderr_path.read_text(errors="replace"),
    )


def _read_max_rss_kb(path: Path) -> int:
    # GNU time writes "Command exited with non-zero status N" before the
    # number when the command fails, so the number is the last line.
    lines = path.read_text().split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def median(values: Sequence[float]) -> float:
    """Return the median of a non-empty sequence."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
