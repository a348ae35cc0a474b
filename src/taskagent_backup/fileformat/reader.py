"""Read a backup document as a stream and check it line by line.

``read_backup`` opens a file (compressed or not) and returns a
``BackupReader``.  Iterating its tables yields each table's description and
its raw row lines; once a table's rows are consumed the reader has checked
the row count and SHA-256 declared in the file against the rows it read.
Every failure is a ``BackupFileError`` naming the file, the line and what is
wrong, so a truncated or edited file is never taken for a good one.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson
import zstandard

from taskagent_backup.errors import BackupFileError, BackupNotFoundError
from taskagent_backup.fileformat import FORMAT_NAME, FORMAT_VERSION, layout
from taskagent_backup.i18n import _

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
AGE_MAGIC = b"age-encryption.org/"


@dataclass
class TableSection:
    """One table of a backup: description, then rows, then declared totals."""

    schema: str
    name: str
    table: dict[str, Any]
    row_count: int = 0
    sha256: str = ""
    rows_read: int = 0
    line_number: int = 0

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class BackupReader:
    """A backup document being read; see the module docstring."""

    path: Path
    stream: IO[bytes]
    header: dict[str, Any] = field(default_factory=dict)
    trailer: dict[str, Any] = field(default_factory=dict)
    line_number: int = 0
    _pending: bytes | None = None

    def fail(self, message: str) -> BackupFileError:
        """Return an error about this file at the current line."""
        return BackupFileError(
            _("{path}: line {line}: {message}").format(
                path=self.path, line=self.line_number, message=message
            )
        )

    def _next_line(self) -> bytes:
        if self._pending is not None:
            line, self._pending = self._pending, None
            return line
        try:
            raw = self.stream.readline()
        except (EOFError, zstandard.ZstdError, OSError) as error:
            raise self.fail(
                _("cannot read: {error}; the file is truncated or damaged").format(error=error)
            ) from None
        self.line_number += 1
        if not raw:
            raise self.fail(_("file ends here: the backup is truncated"))
        if not raw.endswith(b"\n"):
            raise self.fail(_("last line is incomplete: the backup is truncated"))
        return raw[:-1]

    def _push_back(self, line: bytes) -> None:
        self._pending = line

    def read_header(self) -> dict[str, Any]:
        """Read and check the first line; return the header."""
        try:
            line = self._next_line()
        except BackupFileError:
            raise self.fail(_("file is empty or not a taskagent-backup file")) from None
        if not line.startswith(layout.DOCUMENT_PREFIX):
            raise self.fail(
                foreign_file_marker()
                + _(
                    "an old TaskAgent backup can be restored with taskagent-backup restore, "
                    "but not verified"
                )
                + ")"
            )
        rest = line[len(layout.DOCUMENT_PREFIX):]
        version_text, _separator, header_part = rest.partition(b',"header":')
        if not version_text.isdigit() or int(version_text) != FORMAT_VERSION:
            raise self.fail(
                _(
                    "format version {version} is not supported; "
                    "this version of taskagent-backup reads version {supported}"
                ).format(version=version_text.decode(errors="replace"), supported=FORMAT_VERSION)
            )
        if not header_part.endswith(b","):
            raise self.fail(_("header line is malformed"))
        self.header = self._parse(header_part[:-1], _("header"))
        if self._next_line() + b"\n" != layout.TABLES_OPEN:
            raise self.fail(_('expected the line "tables":{'))
        return self.header

    def tables(self) -> Iterator[TableSection]:
        """Yield each table; consume its rows with ``rows`` before moving on."""
        while True:
            line = self._next_line()
            if line + b"\n" == layout.TABLES_CLOSE:
                self._read_trailer()
                return
            schema_match = layout.SCHEMA_OPEN.match(line)
            if not schema_match:
                raise self.fail(_("expected a schema name or the end of the tables"))
            schema = self._parse(schema_match.group(2), _("schema name"))
            yield from self._schema_tables(schema)

    def _schema_tables(self, schema: str) -> Iterator[TableSection]:
        while True:
            line = self._next_line()
            if line + b"\n" == layout.SCHEMA_CLOSE:
                return
            match = layout.TABLE_OPEN.match(line)
            if not match:
                raise self.fail(
                    _("expected a table of schema {schema!r}").format(schema=schema)
                )
            section = TableSection(
                schema=schema,
                name=self._parse(match.group(2), _("table name")),
                table=self._parse(match.group(3), _("table description")),
                line_number=self.line_number,
            )
            yield section
            if section.rows_read == 0 and not section.sha256:
                for _row in self.rows(section):
                    pass

    def rows(self, section: TableSection) -> Iterator[bytes]:
        """Yield the row lines (JSON arrays, without commas) of ``section``.

        Raises ``BackupFileError`` at the end when the count or the SHA-256
        differs from what the file declares.
        """
        digest = hashlib.sha256()
        count = 0
        comma_after_previous = True
        while True:
            line = self._next_line()
            if line.startswith(b"["):
                if not comma_after_previous:
                    raise self.fail(
                        _(
                            "table {table}: the comma after the previous row "
                            "is missing, so the document is not valid JSON"
                        ).format(table=section.qualified_name)
                    )
                comma_after_previous = line.endswith(b"],")
                row = line[:-1] if comma_after_previous else line
                digest.update(row + b"\n")
                count += 1
                section.rows_read = count
                yield row
                continue
            close = layout.TABLE_CLOSE.match(line)
            if not close:
                raise self.fail(
                    _("table {table}: expected a row or the end").format(
                        table=section.qualified_name
                    )
                )
            break
        if count and comma_after_previous:
            raise self.fail(
                _(
                    "table {table}: the last row ends with a comma, "
                    "so the document is not valid JSON"
                ).format(table=section.qualified_name)
            )
        section.row_count = int(close.group(1))
        section.sha256 = close.group(2).decode()
        if count != section.row_count:
            raise self.fail(
                _("table {table}: {found} rows found, {declared} declared").format(
                    table=section.qualified_name, found=count, declared=section.row_count
                )
            )
        if digest.hexdigest() != section.sha256:
            raise self.fail(
                _(
                    "table {table}: SHA-256 of the rows does not match: "
                    "the rows were changed after the backup was written"
                ).format(table=section.qualified_name)
            )

    def _read_trailer(self) -> None:
        line = self._next_line()
        if not line.startswith(layout.TRAILER_PREFIX) or not line.endswith(b"}"):
            raise self.fail(_("expected the trailer that ends the document"))
        self.trailer = self._parse(line[len(layout.TRAILER_PREFIX):-1], _("trailer"))
        if self.stream.read(1):
            self.line_number += 1
            raise self.fail(_("unexpected data after the end of the document"))

    def _parse(self, text: bytes, what: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise self.fail(
                _("{what} is not valid JSON: {error}").format(what=what, error=error)
            ) from None


def foreign_file_marker() -> str:
    """Return how the error for a readable file that is not a backup starts.

    The catalog looks for this text to tell a foreign file from a damaged one,
    so both sides build it from the same translated message.
    """
    return _("not a {format} file").format(format=FORMAT_NAME) + " ("


def open_decompressed(path: Path, identity_paths: list[Path] | None = None) -> IO[bytes]:
    """Open ``path`` and undo its compression, chosen by the file's first bytes.

    Raises ``BackupFileError`` when the file cannot be opened or is
    encrypted and no identity is given.
    """
    try:
        raw: IO[bytes] = path.open("rb")
    except OSError as error:
        raise BackupNotFoundError(
            _("{path}: cannot open: {reason}").format(path=path, reason=error.strerror)
        ) from error
    magic = raw.read(len(AGE_MAGIC))
    raw.seek(0)
    if magic.startswith(AGE_MAGIC):
        from taskagent_backup.fileformat.decryption import open_decrypted

        raw = open_decrypted(raw, path, identity_paths or [])
        magic = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if magic.startswith(ZSTD_MAGIC):
        decompressor = zstandard.ZstdDecompressor()
        return decompressor.stream_reader(raw, read_across_frames=True, closefd=True)
    if magic.startswith(GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw


def read_backup(path: Path, identity_paths: list[Path] | None = None) -> BackupReader:
    """Open ``path`` and read its header; return the reader positioned at the tables."""
    import io

    stream = open_decompressed(path, identity_paths)
    buffered: IO[bytes]
    if isinstance(stream, io.BufferedReader):
        buffered = stream
    else:
        buffered = io.BufferedReader(cast(io.RawIOBase, stream), 1 << 20)
    reader = BackupReader(path=path, stream=buffered)
    reader.read_header()
    return reader
