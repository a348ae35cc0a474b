"""The benchmark's databases: create, fill with TaskAgent sample data, count, drop."""

from __future__ import annotations

from typing import Any

import asyncpg

from taskagent_backup.demo.sample_data import load_demo_database
from taskagent_backup.dsn import parse_dsn
from taskagent_backup.pgserver import LocalServer

SCHEMAS = ["public", "auth"]

TABLES_QUERY = """
SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name
FROM pg_tables WHERE schemaname = ANY($1::text[]) ORDER BY 1
"""


async def connect(dsn: str) -> Any:
    """Open an asyncpg connection to ``dsn``."""
    return await asyncpg.connect(**parse_dsn(dsn).connect_kwargs())


async def create_database(server: LocalServer, name: str) -> str:
    """Create an empty database ``name`` (dropping an old one) and return its DSN."""
    admin = await connect(server.dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.dsn(name)


async def drop_database(server: LocalServer, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions."""
    admin = await connect(server.dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def load_sample(dsn: str, users: int) -> None:
    """Load the TaskAgent schema and sample rows for ``users`` users, then analyze.

    ``VACUUM ANALYZE`` sets the hint bits and statistics, so the first timed
    reader does not pay for them and every tool reads the same table state.
    """
    connection = await connect(dsn)
    try:
        await load_demo_database(connection, users)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def count_rows(dsn: str) -> dict[str, int]:
    """Return the exact row count of every table in ``SCHEMAS``."""
    connection = await connect(dsn)
    try:
        names = [row["name"] for row in await connection.fetch(TABLES_QUERY, SCHEMAS)]
        return {name: await connection.fetchval(f"SELECT count(*) FROM {name}") for name in names}
    finally:
        await connection.close()


async def describe_database(dsn: str) -> dict[str, object]:
    """Return the server version and the database's size on disk."""
    connection = await connect(dsn)
    try:
        version = await connection.fetchval("SELECT version()")
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    return {"server_version": version, "database_mb": round(size / 1024 / 1024, 1)}
