"""Benchmark taskagent-backup against pg_dump and pg_restore on one machine.

Starts a throwaway PostgreSQL, loads the TaskAgent sample data (about 179
rows per user, so the default 12 600 users give about 2.26 million rows),
then times, each as a child process:

* ``pg_dump -Fp`` and ``pg_dump -Fc`` into files;
* ``taskagent-backupd --run-now`` with zstd and without compression, with
  and without the embedded schema;
* one backup in the same process as a ``LoopLagMonitor`` (``lag_probe.py``)
  for the event loop's worst lag;
* ``pg_restore --data-only`` into a schema-only copy and a full
  ``pg_restore`` into an empty database, against ``taskagent-backup
  restore`` doing the same, when that command exists.

Every restore is checked against the source table by table.  Prints a table
and writes every number as JSON.  Usage::

    .venv/bin/python bench/run_benchmark.py [--users N] [--repeat N] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from dataset import create_database, describe_database, load_sample
from machine import describe_machine
from report import judge_goals, print_table
from steps import Context, run_backups, run_lag_probes, run_pg_dumps, run_restores

from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.pgserver import LocalServer, create_server

DEFAULT_USERS = 12_600
SOURCE_DATABASE = "taskagent"
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "latest.json"


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS,
                        help="sample users to load, about 179 rows each (default: 12600)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each timed command; the median is reported (default: 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file (default: bench/results/latest.json)")
    parser.add_argument("--work-directory", type=Path, default=None,
                        help="parent of the scratch directory (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the server running and keep the scratch directory")
    arguments = parser.parse_args(argv)
    if arguments.users < 1 or arguments.repeat < 1:
        parser.error("--users and --repeat must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark and return 0 when every step completed."""
    arguments = parse_arguments(argv)
    configure_logging("warning")
    work = Path(tempfile.mkdtemp(prefix="taskagent-bench-", dir=arguments.work_directory))
    # The server runs as the postgres user when this is root and must reach its directory.
    work.chmod(0o755)
    print(f"scratch directory: {work}", flush=True)
    server = create_server(work)
    try:
        results = run_all(arguments, server, work)
    finally:
        _clean_up(server, work, arguments.keep)

    _write_results(arguments.output, results)
    print_table(results)
    return 0 if results["complete"] else 1


def run_all(arguments: argparse.Namespace, server: LocalServer, work: Path) -> dict[str, object]:
    """Load the data, run every step and return the results document."""
    started_at = datetime.now(UTC)
    source = asyncio.run(create_database(server, SOURCE_DATABASE))
    print(f"loading sample data for {arguments.users} users...", flush=True)
    asyncio.run(load_sample(source, arguments.users))
    context = Context(server, work, source, arguments.repeat, _child_environment())
    context.prepare()

    results: dict[str, object] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_commit": _git_commit(),
        "machine": describe_machine(work),
        "dataset": {"users": arguments.users, **_dataset_facts(context)},
        "backups": run_pg_dumps(context) + run_backups(context),
        "event_loop_lag": run_lag_probes(context),
        "restores": run_restores(context),
    }
    results["goals"] = judge_goals(results)
    results["complete"] = all(
        step["returncode"] == 0
        for key in ("backups", "restores") for step in results[key]  # type: ignore[attr-defined]
        if step.get("returncode") is not None
    )
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def _dataset_facts(context: Context) -> dict[str, object]:
    facts = asyncio.run(describe_database(context.source_dsn))
    return {
        **facts,
        "total_rows": sum(context.source_counts.values()),
        "tables": context.source_counts,
    }


def _git_commit() -> str:
    # "-dirty" marks uncommitted changes in the tree that was measured.
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
        capture_output=True, text=True, check=False,
    )
    return result.stdout.strip() or "unknown"


def _child_environment() -> dict[str, str]:
    # A TASKAGENT_BACKUP_* variable of the caller would override the configs written here.
    return {key: value for key, value in os.environ.items()
            if not key.startswith("TASKAGENT_BACKUP_")}


def _write_results(path: Path, results: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {path}")


def _clean_up(server: LocalServer, work: Path, keep: bool) -> None:
    if keep:
        prefix = f"runuser -u {server.run_as} -- " if server.run_as else ""
        print(f"kept: server at {server.dsn(SOURCE_DATABASE)}, files in {work}")
        print(f"stop it with: {prefix}{server.bin_directory}/pg_ctl "
              f"-D {server.data_directory} stop")
        return
    server.stop("immediate")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
