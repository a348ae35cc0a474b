"""The timed steps of the benchmark: dumps, our backups, lag probes, restores."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from dataset import SCHEMAS, count_rows, create_database, drop_database
from exactness import TableDigests, differences, table_digests
from measure import Measurement, median, run_measured

from taskagent_backup.pgserver import LocalServer

BIN = Path(sys.executable).parent
# (name, compression, embed_schema) of each timed run of our backup.
BACKUP_VARIANTS = [
    ("taskagent-backup zstd", "zstd", True),
    ("taskagent-backup zstd, no schema", "zstd", False),
    ("taskagent-backup none", "none", True),
    ("taskagent-backup none, no schema", "none", False),
]
LAG_VARIANTS = [("zstd", "zstd", True), ("none", "none", False)]
RESTORE_TARGET = "restore_target"
# The end of the summary line that taskagent-backupd prints, e.g. "(417.0 MiB, 12.3 s)".
SUMMARY_SECONDS = re.compile(r", ([0-9.]+) s\)\s*$", re.MULTILINE)

Step = dict[str, object]


@dataclass
class Context:
    """The server, scratch directory and source database shared by every step."""

    server: LocalServer
    work: Path
    source_dsn: str
    repeat: int
    environment: dict[str, str]
    source_counts: dict[str, int] = field(default_factory=dict)
    source_digests: TableDigests = field(default_factory=dict)
    custom_dump: Path | None = None
    our_backup: Path | None = None

    def prepare(self) -> None:
        """Count the source's rows and record its digests for the restore checks."""
        self.source_counts = asyncio.run(count_rows(self.source_dsn))
        self.source_digests = asyncio.run(table_digests(self.source_dsn, self.work / "digests"))

    def libpq_arguments(self, database: str) -> list[str]:
        """Return the connection options of a PostgreSQL client tool."""
        return ["-h", str(self.server.socket_directory), "-p", str(self.server.port),
                "-U", "postgres", "-d", database]

    def tool(self, name: str) -> str:
        """Return the path of a client tool of the server's own version."""
        return str(self.server.bin_directory / name)


def measure(
    context: Context, name: str, command: list[str], prepare: Callable[[], None] | None = None
) -> tuple[Step, list[Measurement]]:
    """Run ``command`` ``context.repeat`` times; return the step's numbers and every run.

    ``prepare`` runs untimed before each run.  Reports the median time and
    the largest peak RSS, and stops repeating after a failed run.
    """
    runs: list[Measurement] = []
    for attempt in range(context.repeat):
        if prepare is not None:
            prepare()
        slug = name.replace(" ", "_").replace(",", "")
        runs.append(run_measured(command, context.work / "logs" / f"{slug}-{attempt}",
                                 context.environment))
        print(f"  {name}: {runs[-1].seconds:.1f} s (exit {runs[-1].returncode})", flush=True)
        if not runs[-1].ok:
            break
    step: Step = {"name": name, **runs[-1].describe()}
    step["seconds"] = round(median([run.seconds for run in runs]), 2)
    step["runs_seconds"] = [round(run.seconds, 2) for run in runs]
    step["max_rss_mb"] = round(max(run.max_rss_mb for run in runs), 1)
    return step, runs


def run_pg_dumps(context: Context) -> list[Step]:
    """Time ``pg_dump`` in plain (-Fp) and custom (-Fc) format."""
    print("pg_dump:", flush=True)
    dumps = context.work / "dumps"
    dumps.mkdir(exist_ok=True)
    steps = []
    for flag, suffix in (("-Fp", "sql"), ("-Fc", "dump")):
        output = dumps / f"taskagent.{suffix}"
        command = [context.tool("pg_dump"), flag, "-f", str(output),
                   *context.libpq_arguments("taskagent")]
        step, _ = measure(context, f"pg_dump {flag}", command)
        step["bytes"] = output.stat().st_size if output.exists() else None
        steps.append(step)
    context.custom_dump = dumps / "taskagent.dump"
    return steps


def write_config(path: Path, dsn: str, directory: Path, compression: str, embed: bool) -> Path:
    """Write a backup configuration for ``dsn`` into ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps gives valid TOML basic strings for these paths and DSNs.
    path.write_text(
        "[database]\n"
        f"dsn = {json.dumps(dsn)}\n"
        f"schemas = {json.dumps(SCHEMAS)}\n"
        "[backup]\n"
        f"directory = {json.dumps(str(directory))}\n"
        f'compression = "{compression}"\n'
        f"embed_schema = {'true' if embed else 'false'}\n"
        "free_space_reserve_mb = 0\n"
        "[logging]\n"
        'level = "warning"\n'
    )
    return path


def backup_file(directory: Path) -> Path | None:
    """Return the one backup file in ``directory``, or None."""
    files = sorted(directory.glob("*_backup_*"))
    return files[-1] if files else None


def _empty(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def backup_phase_seconds(summary: str) -> float | None:
    """Return the duration from the ``backup written: ... (N s)`` summary line.

    That is ``run_backup`` alone: the process's wall time also covers the
    interpreter start and the retention pass that reads the new file back.
    """
    match = SUMMARY_SECONDS.search(summary)
    return float(match.group(1)) if match else None


def run_backups(context: Context) -> list[Step]:
    """Time ``taskagent-backupd --run-now`` for every variant."""
    print("taskagent-backupd --run-now:", flush=True)
    steps = []
    for name, compression, embed in BACKUP_VARIANTS:
        slug = f"{compression}-{'schema' if embed else 'noschema'}"
        directory = context.work / "backups" / slug
        config = write_config(context.work / "configs" / f"{slug}.toml", context.source_dsn,
                              directory, compression, embed)
        command = [str(BIN / "taskagent-backupd"), "--run-now", "--config", str(config)]
        step, runs = measure(context, name, command, prepare=partial(_empty, directory))
        phases = [backup_phase_seconds(run.stdout) for run in runs]
        known = [phase for phase in phases if phase is not None]
        step["backup_seconds"] = round(median(known), 2) if known else None
        written = backup_file(directory)
        step["bytes"] = written.stat().st_size if written else None
        step["file"] = str(written) if written else None
        steps.append(step)
        if context.our_backup is None and compression == "zstd" and embed:
            context.our_backup = written
    return steps


def run_lag_probes(context: Context) -> list[Step]:
    """Take backups in the same process as a lag monitor; return the lag reports."""
    print("event loop lag during a backup:", flush=True)
    steps = []
    for name, compression, embed in LAG_VARIANTS:
        directory = context.work / "lag" / name
        config = write_config(context.work / "configs" / f"lag-{name}.toml",
                              context.source_dsn, directory, compression, embed)
        output = context.work / "lag" / f"{name}.jsonl"
        command = [sys.executable, str(Path(__file__).parent / "lag_probe.py"),
                   "--config", str(config), "--output", str(output)]
        step, _ = measure(context, f"lag probe {name}", command, prepare=partial(_empty, directory))
        if output.exists():
            step.update(_combine_probes(output))
        steps.append(step)
    return steps


def _combine_probes(results_path: Path) -> Step:
    """Merge the probe's JSON lines: the worst lag of all runs, the median backup time."""
    probes = [json.loads(line) for line in results_path.read_text().splitlines() if line]
    lags = [probe["lag"] for probe in probes]
    return {
        "lag": {
            "samples": sum(lag["samples"] for lag in lags),
            "max_ms": max(lag["max_ms"] for lag in lags),
            "p99_ms": max(lag["p99_ms"] for lag in lags),
            "runs_max_ms": [lag["max_ms"] for lag in lags],
        },
        "bytes": probes[-1]["bytes"],
        "backup_seconds": round(median([probe["backup_seconds"] for probe in probes]), 2),
    }


def run_restores(context: Context) -> list[Step]:
    """Time pg_restore and our restore, data only and with the schema."""
    from restores import restore_steps

    print("restores:", flush=True)
    return [_run_restore(context, *plan) for plan in restore_steps(context)]


def _run_restore(
    context: Context, name: str, command: list[str] | None, schema_first: bool, reason: str
) -> Step:
    if command is None:
        print(f"  {name}: not measured ({reason})", flush=True)
        return {"name": name, "status": "not measured yet", "reason": reason,
                "seconds": None, "returncode": None}

    def prepare() -> None:
        target = asyncio.run(create_database(context.server, RESTORE_TARGET))
        if schema_first:
            _restore_schema_only(context, target)

    step, runs = measure(context, name, command, prepare)
    step["schema_first"] = schema_first
    if runs[-1].ok:
        step.update(_check_target(context))
    asyncio.run(drop_database(context.server, RESTORE_TARGET))
    return step


def _restore_schema_only(context: Context, _target: str) -> None:
    assert context.custom_dump is not None
    result = run_measured(
        [context.tool("pg_restore"), "--schema-only", *context.libpq_arguments(RESTORE_TARGET),
         str(context.custom_dump)],
        context.work / "logs" / "schema-only", context.environment,
    )
    if not result.ok:
        raise RuntimeError(f"pg_restore --schema-only failed: {result.stderr[-2000:]}")


def _check_target(context: Context) -> Step:
    target = context.server.dsn(RESTORE_TARGET)
    digests = asyncio.run(table_digests(target, context.work / "digests"))
    problems = differences(context.source_digests, digests)
    return {"exact": not problems, "problems": problems,
            "rows": sum(int(str(entry["rows"])) for entry in digests.values())}
