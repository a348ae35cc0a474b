"""Export tables on extra connections that share the backup's snapshot.

The server builds every row's JSON, so a backup on one connection keeps
one server core busy.  Extra connections join the same snapshot
(``pg_export_snapshot()`` and ``SET TRANSACTION SNAPSHOT``, as ``pg_dump
-j`` does) and export the largest tables still waiting into unnamed
temporary files in the backup directory.  The main connection writes the
tables in file order: it streams a table directly unless a helper has
taken it, in which case it copies the helper's temporary file.  The
backup's bytes are the same either way; memory stays flat because
spooled rows wait on disk, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import structlog

from taskagent_backup.db import DRIVER_ERRORS, connect
from taskagent_backup.dsn import ConnectionTarget
from taskagent_backup.errors import DatabaseError
from taskagent_backup.snapshot.catalog import Table
from taskagent_backup.snapshot.export import stream_table

log = structlog.get_logger(__name__)

SPOOL_CHUNK_BYTES = 1 << 20
HELPER_UNAVAILABLE: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, OSError, DatabaseError)

Spool = IO[bytes]


@dataclass
class TableQueue:
    """The tables not yet claimed, and the spool of each table a helper claimed."""

    tables: list[Table]
    free: set[int] = field(default_factory=set)
    spools: dict[int, asyncio.Future[Spool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = set(range(len(self.tables)))

    def take_for_main(self, index: int) -> asyncio.Future[Spool] | None:
        """Claim table ``index`` for direct streaming, or return its spool."""
        self.free.discard(index)
        return self.spools.get(index)

    def take_largest(self) -> int | None:
        """Claim the free table that takes the most space on disk, if any.

        The on-disk size is known without ANALYZE, unlike the row estimate.
        """
        if not self.free:
            return None
        index = max(self.free, key=lambda i: self.tables[i].size_bytes)
        self.free.discard(index)
        self.spools[index] = asyncio.get_running_loop().create_future()
        return index

    def close_unused(self) -> None:
        """Close the spools that will not be read, after a failure."""
        for future in self.spools.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result().close()
            elif not future.done():
                future.cancel()


@contextlib.asynccontextmanager
async def snapshot_connections(
    target: ConnectionTarget, snapshot_id: str, count: int, pgbouncer: bool
) -> AsyncIterator[list[Any]]:
    """Yield up to ``count`` connections inside transactions on ``snapshot_id``.

    A connection that cannot be opened or cannot join the snapshot (too
    many connections, a pooler that rejects it) is skipped with a warning,
    so the backup still runs, more slowly, on fewer connections.
    """
    async with contextlib.AsyncExitStack() as stack:
        connections = []
        for _ in range(count):
            try:
                connection = await stack.enter_async_context(connect(target, pgbouncer=pgbouncer))
                transaction = connection.transaction(isolation="repeatable_read", readonly=True)
                await transaction.start()
                await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
            except HELPER_UNAVAILABLE as error:
                log.warning("parallel_export_unavailable", error=str(error))
                break
            connections.append(connection)
        yield connections


async def spool_table(connection: Any, table: Table, directory: Path) -> Spool:
    """Export ``table`` into an unnamed temporary file and return it, rewound."""
    spool = await asyncio.to_thread(_open_spool, directory)
    buffer = bytearray()

    async def collect(chunk: bytes) -> None:
        buffer.extend(chunk)
        if len(buffer) >= SPOOL_CHUNK_BYTES:
            data = bytes(buffer)
            buffer.clear()
            await asyncio.to_thread(spool.write, data)

    try:
        await stream_table(connection, table, collect)
        await asyncio.to_thread(spool.write, bytes(buffer))
        await asyncio.to_thread(spool.seek, 0)
    except BaseException:
        spool.close()
        raise
    return spool


def _open_spool(directory: Path) -> Spool:
    # An unnamed file (O_TMPFILE where the file system has it) leaves
    # nothing behind when the process is killed.
    return tempfile.TemporaryFile(mode="w+b", dir=directory, prefix=".spool-")


async def copy_spool(spool: Spool, write_rows: Callable[[bytes], Awaitable[None]]) -> None:
    """Send a spooled table's rows to ``write_rows`` and close the spool."""
    try:
        while data := await asyncio.to_thread(spool.read, SPOOL_CHUNK_BYTES):
            await write_rows(data)
    finally:
        spool.close()


async def run_helper(connection: Any, queue: TableQueue, directory: Path,
                     translate: Callable[[Table], contextlib.AbstractContextManager[None]]) -> None:
    """Spool the largest free tables until none is left; errors go to the spool."""
    while (index := queue.take_largest()) is not None:
        future = queue.spools[index]
        table = queue.tables[index]
        try:
            with translate(table):
                spool = await spool_table(connection, table, directory)
        except BaseException as error:
            if not future.done():
                future.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        if future.cancelled():
            spool.close()
            return
        future.set_result(spool)
