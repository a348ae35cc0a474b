"""Describe the machine a benchmark ran on: CPU, cores, memory, disk, kernel."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Return the total memory in GiB from /proc/meminfo (0.0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def disk_of(path: Path) -> dict[str, object]:
    """Return the device, file system and size of the mount under ``path``.

    Uses ``findmnt`` from util-linux; fields it cannot tell are ``"unknown"``.
    """
    facts: dict[str, object] = {"path": str(path)}
    found = _run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,SIZE", "--target", str(path)])
    parts = found.split()
    if len(parts) == 3:
        facts.update(device=parts[0], filesystem=parts[1], size=parts[2])
    else:
        facts.update(device="unknown", filesystem="unknown", size="unknown")
    return facts


def describe_machine(work_directory: Path) -> dict[str, object]:
    """Return the facts that the results page lists about the machine."""
    hypervisor = next((line.split(":", 1)[1].strip()
                       for line in _run(["lscpu"]).splitlines()
                       if line.startswith("Hypervisor vendor")), "none")
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "disk": disk_of(work_directory),
        "kernel": platform.release(),
        "hypervisor": hypervisor,
        "python": platform.python_version(),
    }


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
