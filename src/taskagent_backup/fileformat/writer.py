"""Write the backup document, one table at a time, from a stream of rows."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from taskagent_backup.fileformat import FORMAT_VERSION, layout
from taskagent_backup.fileformat.streams import ByteSink


class DocumentWriter:
    """Lay out a backup document on ``sink`` (see ``layout``).

    Call ``write_header``, then for each table ``begin_table``,
    ``write_rows`` for every chunk of row lines and ``end_table``, and
    finally ``write_trailer``.  Tables must arrive grouped by schema.  The
    writer is not thread-safe; one thread drives it.
    """

    def __init__(self, sink: ByteSink) -> None:
        self._sink = sink
        self._schema: str | None = None
        self._first_table_in_schema = True
        self._hash = hashlib.sha256()
        self._row_count = 0
        self._pending_newline = False

    def write_header(self, header: dict[str, Any]) -> None:
        """Write the document's opening line and the start of ``tables``."""
        self._sink.write(
            layout.DOCUMENT_PREFIX
            + str(FORMAT_VERSION).encode()
            + b',"header":'
            + orjson.dumps(header)
            + b",\n"
        )
        self._sink.write(layout.TABLES_OPEN)

    def begin_table(self, schema: str, name: str, table: dict[str, Any]) -> None:
        """Open the object for ``schema.name`` with its description ``table``."""
        if schema != self._schema:
            prefix = b"," if self._schema is not None else b""
            if self._schema is not None:
                self._sink.write(layout.SCHEMA_CLOSE)
            self._sink.write(prefix + orjson.dumps(schema) + b":{\n")
            self._schema = schema
            self._first_table_in_schema = True
        prefix = b"" if self._first_table_in_schema else b","
        self._first_table_in_schema = False
        self._sink.write(
            prefix + orjson.dumps(name) + b':{"table":' + orjson.dumps(table) + b',"rows":[\n'
        )
        self._hash = hashlib.sha256()
        self._row_count = 0
        self._pending_newline = False

    def write_rows(self, chunk: bytes) -> None:
        """Write complete or partial row lines, each ended by a newline.

        ``chunk`` is raw ``COPY`` output: one JSON array per line.  Lines may
        be split across chunks.  The separating commas are added here.
        """
        if not chunk:
            return
        self._hash.update(chunk)
        self._row_count += chunk.count(b"\n")
        if self._pending_newline:
            self._sink.write(layout.ROW_SEPARATOR)
        self._pending_newline = chunk.endswith(b"\n")
        body = chunk[:-1] if self._pending_newline else chunk
        self._sink.write(body.replace(b"\n", layout.ROW_SEPARATOR))

    def end_table(self) -> tuple[int, str]:
        """Close the current table and return its row count and SHA-256."""
        digest = self._hash.hexdigest()
        newline = b"\n" if self._pending_newline else b""
        self._sink.write(
            newline + b'],"row_count":' + str(self._row_count).encode()
            + b',"sha256":"' + digest.encode() + b'"}\n'
        )
        return self._row_count, digest

    def write_trailer(self, trailer: dict[str, Any]) -> None:
        """Close ``tables`` and write the trailer that ends the document."""
        if self._schema is not None:
            self._sink.write(layout.SCHEMA_CLOSE)
        self._sink.write(layout.TABLES_CLOSE)
        self._sink.write(layout.TRAILER_PREFIX + orjson.dumps(trailer) + b"}\n")
