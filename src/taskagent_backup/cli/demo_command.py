"""``taskagent-backup demo``: back up a built-in TaskAgent database end to end.

Starts a throwaway PostgreSQL server, loads the TaskAgent schema with
sample data, takes a backup with the same code the daemon uses, checks the
file and prints what it contains.  Needs only the PostgreSQL binaries.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from taskagent_backup.fileformat.reader import read_backup
from taskagent_backup.i18n import _
from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.pgserver import temporary_server
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import BackupSettings, DatabaseSettings, Settings
from taskagent_backup.summary import print_backup_summary

DEMO_DATABASE = "taskagent"
FIRST_TASK_QUERY = (
    ".tables.public.tasks as $t | [[$t.table.columns[].name], $t.rows[0]]"
    " | transpose | map({(.[0]): .[1]}) | add"
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", parents=[common], help=_("back up a built-in demo database"),
        description=_(
            "Start a throwaway PostgreSQL, load the TaskAgent schema with sample data, "
            "back it up and show the backup."
        ),
    )
    parser.add_argument(
        "--directory", type=Path, default=Path("demo-backups"),
        help=_("directory for the demo backup (default: ./demo-backups)"),
    )
    parser.add_argument(
        "--users", type=int, default=20, help=_("number of sample users (default: 20)")
    )
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the demo and return 0 when the backup was written and verified."""
    configure_logging("warning")
    directory = arguments.directory.resolve()
    with tempfile.TemporaryDirectory(prefix="taskagent-demo-") as scratch:
        scratch_path = Path(scratch)
        scratch_path.chmod(0o755)
        print(_("starting a throwaway PostgreSQL server..."))
        with temporary_server(scratch_path) as server:
            settings = asyncio.run(_prepare(server.dsn(), arguments.users, directory))
            result = asyncio.run(run_once(settings, "manual"))
    print_backup_summary(result)
    _describe(result.path)
    return 0


async def _prepare(admin_dsn: str, users: int, directory: Path) -> Settings:
    from taskagent_backup.demo.sample_data import load_demo_database
    from taskagent_backup.dsn import parse_dsn

    admin = await asyncpg.connect(**parse_dsn(admin_dsn).connect_kwargs())
    try:
        await admin.execute(f"CREATE DATABASE {DEMO_DATABASE}")
    finally:
        await admin.close()
    demo_dsn = admin_dsn.replace("/postgres?", f"/{DEMO_DATABASE}?")
    connection = await asyncpg.connect(**parse_dsn(demo_dsn).connect_kwargs())
    try:
        await load_demo_database(connection, users)
    finally:
        await connection.close()
    return Settings(
        database=DatabaseSettings(dsn=SecretStr(demo_dsn), schemas=["public", "auth"]),
        backup=BackupSettings(directory=directory),
    )


def _describe(path: Path) -> None:
    reader = read_backup(path)
    print(_("verified {file}:").format(file=path.name))
    for section in reader.tables():
        count = sum(1 for _row in reader.rows(section))
        print(f"  {section.qualified_name:<36} {count:>7}")
    schema = reader.trailer.get("schema", {})
    state = _("embedded") if schema.get("embedded") else _("not embedded")
    print(_("schema (pg_dump --schema-only): {state}").format(state=state))
    print(_("first task, with column names:"))
    print(f"  zstd -dc {path} | jq '{FIRST_TASK_QUERY}'")
