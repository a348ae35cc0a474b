"""Helpers shared by the restore tests: back up, restore, compare row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskagent_backup.backup import run_backup
from taskagent_backup.dsn import parse_dsn
from taskagent_backup.restore import RestoreOptions, RestoreResult, run_restore
from tests.conftest import connect_to, make_settings

TABLES_QUERY = """
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname IN ('public', 'auth') ORDER BY 1
"""


async def back_up(dsn: str, directory: Path, **sections: Any) -> Path:
    """Back up ``dsn`` into ``directory`` and return the file."""
    result = await run_backup(make_settings(dsn, directory, **sections), "manual")
    return result.path


async def restore(path: Path, dsn: str, **options: Any) -> RestoreResult:
    """Restore ``path`` into ``dsn`` with ``RestoreOptions(**options)``."""
    return await run_restore(path, parse_dsn(dsn), RestoreOptions(**options))


async def table_texts(dsn: str, where: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Return every table's rows as ``row::text`` sorted, by ``schema.table``."""
    connection = await connect_to(dsn)
    try:
        names = [row["name"] for row in await connection.fetch(TABLES_QUERY)]
        texts = {}
        for name in names:
            condition = (where or {}).get(name, "true")
            rows = await connection.fetch(
                f"SELECT t::text AS t FROM {name} AS t WHERE {condition} ORDER BY 1"
            )
            texts[name] = [row["t"] for row in rows]
        return texts
    finally:
        await connection.close()


async def execute(dsn: str, sql: str) -> None:
    """Run ``sql`` on ``dsn``."""
    connection = await connect_to(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fetch_value(dsn: str, sql: str) -> Any:
    """Return the first value of ``sql`` on ``dsn``."""
    connection = await connect_to(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()
