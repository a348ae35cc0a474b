"""Shared fixtures: one real PostgreSQL server per test session.

The server is initdb'ed into a temporary directory and reached over a Unix
socket; when the tests run as root it runs as the ``postgres`` user.  Each
test that needs a database gets a fresh one from ``new_database``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog

from taskagent_backup.dsn import parse_dsn
from taskagent_backup.pgserver import LocalServer, temporary_server
from taskagent_backup.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

# Tests match English messages; a developer's Japanese shell must not turn
# them into Japanese. Tests of the translations set LANG themselves.
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"
_database_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """Restore structlog and root logging, which CLI handlers point at captured streams."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalServer]:
    """A throwaway PostgreSQL server for the whole test session."""
    with temporary_server() as server:
        yield server


async def connect_to(dsn: str) -> Any:
    """Open an asyncpg connection to ``dsn`` with UTC as the session time zone."""
    kwargs = parse_dsn(dsn).connect_kwargs()
    kwargs["server_settings"] = {**kwargs["server_settings"], "TimeZone": "UTC"}
    return await asyncpg.connect(**kwargs)


NewDatabase = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_database(pg_server: LocalServer) -> AsyncIterator[NewDatabase]:
    """Return a factory that creates an empty database and returns its DSN."""
    created: list[str] = []

    async def create(prefix: str = "test") -> str:
        name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
        admin = await connect_to(pg_server.dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return pg_server.dsn(name)

    yield create

    admin = await connect_to(pg_server.dsn())
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def taskagent_dsn(new_database: NewDatabase) -> str:
    """A database with the TaskAgent schema and sample rows in every table."""
    from taskagent_backup.demo.sample_data import load_demo_database

    dsn = await new_database("taskagent")
    connection = await connect_to(dsn)
    try:
        await load_demo_database(connection, users=5)
    finally:
        await connection.close()
    return dsn


def make_settings(dsn: str, directory: Path, **sections: dict[str, Any]) -> Settings:
    """Return settings for ``dsn`` writing backups to ``directory``."""
    database = {"dsn": dsn, "schemas": ["public", "auth"], **sections.pop("database", {})}
    backup = {"directory": directory, **sections.pop("backup", {})}
    return Settings(database=database, backup=backup, **sections)
