"""Compression layers between the document writer and the file on disk."""

from __future__ import annotations

import gzip
from typing import IO, Protocol, cast

import zstandard

SUFFIXES = {"zstd": ".zst", "gzip": ".gz", "none": ""}


class ByteSink(Protocol):
    """A blocking byte destination."""

    def write(self, data: bytes | bytearray | memoryview) -> object: ...


class CompressingSink:
    """Compress everything written and pass it on to ``target``.

    ``close`` flushes the compressor's final frame into ``target`` but does
    not close ``target``, so the caller can still sync and publish it.
    """

    def __init__(self, target: ByteSink, compression: str, level: int) -> None:
        self._target = target
        self._compression = compression
        self._zstd: zstandard.ZstdCompressionWriter | None = None
        self._gzip: gzip.GzipFile | None = None
        if compression == "zstd":
            compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
            self._zstd = compressor.stream_writer(target, closefd=False)  # type: ignore[arg-type]
        elif compression == "gzip":
            self._gzip = gzip.GzipFile(
                fileobj=cast(IO[bytes], target), mode="wb", compresslevel=min(level, 9)
            )
        elif compression != "none":
            raise ValueError(f"unknown compression {compression!r}")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Compress ``data`` into the target."""
        if self._zstd is not None:
            self._zstd.write(data)
        elif self._gzip is not None:
            self._gzip.write(data)
        else:
            self._target.write(data)

    def close(self) -> None:
        """Write the end of the compressed stream."""
        if self._zstd is not None:
            self._zstd.close()  # type: ignore[no-untyped-call]
        elif self._gzip is not None:
            self._gzip.close()
