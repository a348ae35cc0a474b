"""Check a backup file without a database: format, rows, checksums, manifest.

``verify_backup`` reads the whole file.  The reader checks the format
version, each table's row count and SHA-256 against the totals written
after its rows, and that the document ends with a trailer.  This module
also checks that each row is strict JSON with one value per column, each a
string or null.  The trailer's manifest must list exactly the tables read,
with the same totals, and must mark the backup complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from taskagent_backup.checks import record_check
from taskagent_backup.errors import (
    AgeIdentityError,
    BackupFileError,
    BackupNotFoundError,
)
from taskagent_backup.fileformat.reader import BackupReader, TableSection, read_backup
from taskagent_backup.i18n import _
from taskagent_backup.progress import Progress

log = structlog.get_logger(__name__)


@dataclass
class TableCheck:
    """The verified totals of one table."""

    name: str
    rows: int
    sha256: str


@dataclass
class VerifyResult:
    """A file that passed every check."""

    path: Path
    seconds: float
    header: dict[str, Any]
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


def verify_backup(
    path: Path, identity_paths: list[Path] | None = None, progress: Progress | None = None
) -> VerifyResult:
    """Read all of ``path`` and check it as the module docstring describes.

    Returns the totals when everything matches.  Raises ``BackupFileError``
    saying what is wrong and where (line, table) otherwise,
    ``BackupNotFoundError`` when ``path`` cannot be opened, and
    ``AgeIdentityError`` when an encrypted file has no matching identity.
    """
    started = time.monotonic()
    progress = progress or Progress()
    _check_openable(path)
    reader = read_backup(path, identity_paths)
    checks = []
    for section in reader.tables():
        progress.start(section.qualified_name, int(section.table.get("estimated_rows") or 0))
        _check_rows(reader, section, progress)
        progress.finish(section.row_count)
        log.info("table_verified", table=section.qualified_name, rows=section.row_count)
        checks.append(TableCheck(section.qualified_name, section.row_count, section.sha256))
    _check_trailer(reader, checks)
    return VerifyResult(path, time.monotonic() - started, reader.header, checks)


def _check_openable(path: Path) -> None:
    # A path that cannot be opened is no evidence about a backup's content,
    # so it raises its own error instead of the reader's BackupFileError.
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise BackupNotFoundError(_("{path}: file not found").format(path=path)) from None
    except OSError as error:
        raise BackupNotFoundError(
            _("{path}: cannot open: {reason}").format(path=path, reason=error.strerror)
        ) from error


def _check_rows(reader: BackupReader, section: TableSection, progress: Progress) -> None:
    width = len(section.table.get("columns", []))
    for row in reader.rows(section):
        try:
            values = orjson.loads(row)
        except orjson.JSONDecodeError as error:
            raise reader.fail(
                _("table {table}: row is not valid JSON: {error}").format(
                    table=section.qualified_name, error=error
                )
            ) from None
        if not isinstance(values, list) or len(values) != width:
            raise reader.fail(
                _(
                    "table {table}: row does not have {width} values "
                    "as the table's description declares"
                ).format(table=section.qualified_name, width=width)
            )
        if not all(value is None or isinstance(value, str) for value in values):
            raise reader.fail(
                _("table {table}: a value is neither a string nor null").format(
                    table=section.qualified_name
                )
            )
        progress.advance(1)


def _check_trailer(reader: BackupReader, checks: list[TableCheck]) -> None:
    trailer = reader.trailer
    where = _("{path}: trailer").format(path=reader.path)
    if trailer.get("complete") is not True:
        raise BackupFileError(
            _("{where}: the backup is not marked complete").format(where=where)
        )
    manifest = trailer.get("manifest")
    if not isinstance(manifest, dict):
        raise BackupFileError(_("{where}: the manifest is missing").format(where=where))
    found = {check.name: {"rows": check.rows, "sha256": check.sha256} for check in checks}
    for name in sorted(set(manifest) | set(found)):
        if name not in found:
            raise BackupFileError(
                _("{where}: table {table} is in the manifest but not in the file").format(
                    where=where, table=name
                )
            )
        if name not in manifest:
            raise BackupFileError(
                _("{where}: table {table} is in the file but not in the manifest").format(
                    where=where, table=name
                )
            )
        if manifest[name] != found[name]:
            raise BackupFileError(
                _(
                    "{where}: table {table}: the manifest records {manifest_rows} rows with "
                    "SHA-256 {manifest_sha256}, the file has {file_rows} rows "
                    "with SHA-256 {file_sha256}"
                ).format(
                    where=where,
                    table=name,
                    manifest_rows=manifest[name]["rows"],
                    manifest_sha256=manifest[name]["sha256"],
                    file_rows=found[name]["rows"],
                    file_sha256=found[name]["sha256"],
                )
            )
    if trailer.get("rows") != sum(check.rows for check in checks):
        raise BackupFileError(
            _("{where}: the total row count does not match the tables").format(where=where)
        )


def verify_and_record(
    path: Path, identity_paths: list[Path] | None = None, progress: Progress | None = None
) -> VerifyResult:
    """Verify ``path``, record the outcome beside it and log one summary event.

    Raises what ``verify_backup`` raises.  Only a ``BackupFileError`` is
    recorded as a failed verification.  A missing file or a missing or
    non-matching age identity is no evidence about the backup's content, so
    neither changes the check records.
    """
    try:
        result = verify_backup(path, identity_paths, progress)
    except BackupFileError as error:
        _record(path, ok=False, detail=str(error))
        log.error("verify_failed", file=str(path), error=str(error))
        raise
    except (AgeIdentityError, BackupNotFoundError) as error:
        log.warning("verify_not_checked", file=str(path), error=str(error))
        raise
    _record(path, ok=True, detail=f"{len(result.tables)} tables, {result.rows} rows")
    log.info(
        "verify_finished",
        file=str(path),
        tables=len(result.tables),
        rows=result.rows,
        seconds=round(result.seconds, 3),
    )
    return result


def _record(path: Path, *, ok: bool, detail: str) -> None:
    # A missing file cannot carry a record, and the error already reports it.
    if path.is_file():
        record_check(path, "verify", ok, detail)
