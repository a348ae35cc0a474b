"""The output chain of a backup: document writer → compression → encryption → file.

All blocking work (compression, encryption, hashing, writes) runs on one
worker thread, so the event loop only hands over chunks of rows.  At most
``MAX_CHUNKS_IN_FLIGHT`` chunks wait for that thread; the ``COPY`` reader
then waits too, which keeps memory flat whatever the table size.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from taskagent_backup.atomic import AtomicFile
from taskagent_backup.fileformat.streams import CompressingSink
from taskagent_backup.fileformat.writer import DocumentWriter

MAX_CHUNKS_IN_FLIGHT = 4
CHUNK_BYTES = 1 << 20

T = TypeVar("T")


class BackupOutput:
    """A backup file being written on a worker thread.

    Use ``call`` for the document's structure (header, table boundaries,
    trailer), ``write_rows`` for row data, then ``commit`` or ``abort``.
    """

    def __init__(
        self,
        final_path: Path,
        compression: str,
        level: int,
        recipients: list[str],
    ) -> None:
        self.final_path = final_path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="backup-writer"
        )
        self._file = AtomicFile(final_path)
        self._encryptor: Any = None
        target: Any = self._file
        if recipients:
            from taskagent_backup.fileformat.encryption import EncryptingSink

            self._encryptor = EncryptingSink(self._file, recipients)
            target = self._encryptor
        self._compressor = CompressingSink(target, compression, level)
        self.document = DocumentWriter(self._compressor)
        self._in_flight: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._buffer = bytearray()

    @property
    def bytes_written(self) -> int:
        return self._file.bytes_written

    @property
    def file_sha256(self) -> str:
        """Return the SHA-256 of the file's bytes; complete once ``commit`` returned."""
        return self._file.sha256

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the writer thread after all earlier work."""
        await self.flush_rows()
        await self._drain()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def write_rows(self, chunk: bytes) -> None:
        """Queue row data; waits while the writer thread is behind."""
        self._buffer += chunk
        if len(self._buffer) >= CHUNK_BYTES:
            await self.flush_rows()

    async def flush_rows(self) -> None:
        """Hand buffered row data to the writer thread."""
        if not self._buffer:
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        loop = asyncio.get_running_loop()
        self._in_flight.append(
            loop.run_in_executor(self._executor, self.document.write_rows, data)
        )
        while len(self._in_flight) >= MAX_CHUNKS_IN_FLIGHT:
            await self._in_flight.popleft()

    async def _drain(self) -> None:
        while self._in_flight:
            await self._in_flight.popleft()

    async def commit(self) -> Path:
        """Finish compression and encryption, then publish the file atomically."""
        await self.call(self._close_layers)
        path = await self.call(self._file.commit)
        self._executor.shutdown(wait=False)
        return path

    def _close_layers(self) -> None:
        self._compressor.close()
        if self._encryptor is not None:
            self._encryptor.close()

    def _abort_layers(self) -> None:
        # The encryption thread writes to the file, so it stops before the
        # temporary file is deleted.
        if self._encryptor is not None:
            self._encryptor.abort()
        self._file.abort()

    async def abort(self) -> None:
        """Stop writing and delete the temporary file; never raises."""
        self._buffer.clear()
        for future in self._in_flight:
            future.cancel()
        self._in_flight.clear()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.shield(loop.run_in_executor(self._executor, self._abort_layers))
        except BaseException:  # cleanup must not mask the original error
            self._abort_layers()
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)
