"""Connections to PostgreSQL and the translation of driver errors.

Connections are made through a SQLAlchemy ``AsyncEngine`` on asyncpg; the
backup and restore code then works on the asyncpg connection underneath,
because ``COPY`` streaming is only available there.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from taskagent_backup.dsn import ConnectionTarget
from taskagent_backup.errors import DatabaseError
from taskagent_backup.i18n import _

# Fixed session settings make PostgreSQL's text output of every value the
# same whatever the server's or client's defaults: timestamps in UTC, ISO
# dates, shortest exact floats and hex bytea.  row_security = off turns a
# silently filtered read into an error, as pg_dump does.
# Errors asyncpg raises when a statement fails or the connection breaks.
# InternalClientError is not an InterfaceError: asyncpg raises it when the
# server ends the session while a protocol operation is starting.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
)

SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "row_security": "off",
    "client_encoding": "UTF8",
}


def create_engine(target: ConnectionTarget, *, pgbouncer: bool = False) -> AsyncEngine:
    """Return an engine that opens asyncpg connections to ``target``.

    With ``pgbouncer`` set, prepared statements are not cached, because a
    pgbouncer in transaction mode may run each statement on another server
    connection.
    """
    connect_kwargs = target.connect_kwargs()
    connect_kwargs["server_settings"] = {**connect_kwargs["server_settings"], **SESSION_SETTINGS}
    if pgbouncer:
        connect_kwargs["statement_cache_size"] = 0

    async def creator() -> asyncpg.Connection:
        return await asyncpg.connect(**connect_kwargs)

    engine_options: dict[str, Any] = {"poolclass": NullPool, "async_creator": creator}
    if pgbouncer:
        engine_options["connect_args"] = {
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__taskagent_{uuid.uuid4().hex}__",
        }
    return create_async_engine("postgresql+asyncpg://", **engine_options)


@contextlib.asynccontextmanager
async def connect(
    target: ConnectionTarget, *, pgbouncer: bool = False, dsn_source: str | None = None
) -> AsyncIterator[Any]:
    """Yield an asyncpg connection to ``target`` with the fixed session settings.

    Raises ``DatabaseError`` naming the server (never the password) when
    the connection cannot be made.  ``dsn_source`` names where the DSN came
    from for that message, ``None`` meaning the ``[database]`` section.
    """
    engine = create_engine(target, pgbouncer=pgbouncer)
    try:
        try:
            connection = await engine.connect()
        except Exception as error:
            raise connection_error(target, error, dsn_source) from error
        try:
            raw = await connection.get_raw_connection()
            yield raw.driver_connection
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
    finally:
        await engine.dispose()


def connection_error(
    target: ConnectionTarget, error: BaseException, dsn_source: str | None = None
) -> DatabaseError:
    """Translate a failure to connect into a ``DatabaseError`` for the operator.

    ``dsn_source`` names where the DSN came from, e.g. ``--target-dsn``, and
    ``None`` means the ``[database]`` section.
    """
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, (asyncio.TimeoutError, TimeoutError)):
        reason = _("the connection timed out")
    else:
        reason = str(cause).strip() or type(cause).__name__
    if target.password:
        reason = reason.replace(target.password, "***")
    if dsn_source is None:
        return DatabaseError(
            _(
                "cannot connect to {server}: {reason}; check that the server is "
                "running, the DSN in [database] and the password"
            ).format(server=target.display(), reason=reason)
        )
    return DatabaseError(
        _(
            "cannot connect to {server}: {reason}; check that the server is "
            "running, the DSN given by {source} and the password"
        ).format(server=target.display(), reason=reason, source=dsn_source)
    )


def query_error(what: str, error: BaseException) -> DatabaseError:
    """Translate a failed statement into a ``DatabaseError`` naming ``what``."""
    detail = getattr(error, "detail", None)
    hint = getattr(error, "hint", None)
    message = _("{what} failed: {error}").format(what=what, error=error)
    if detail:
        message += f" ({detail})"
    if hint:
        message += _("; hint: {hint}").format(hint=hint)
    return DatabaseError(message)
