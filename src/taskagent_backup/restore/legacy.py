"""Read backups written by the old TaskAgent backup script.

The old script wrote one JSON object with a list of row objects per table of
the ``public`` schema and a ``metadata`` object::

    {"users": [{"id": "...", "email": "...", "created_at": "2025-08-14 14:54:41.236391"}],
     "projects": [...], "goals": [...], "tasks": [...],
     "metadata": {"version": "1.0", "created_at": "...", "total_records": {...}}}

Version 2.0 added more tables in the same shape.  Values are strings (UUIDs,
decimals, naive timestamps), numbers, booleans or null.  The application
wrote its naive timestamps in UTC, and the restore session runs with
``TimeZone=UTC``, so they are read as UTC.  ``LegacyBackup`` presents such a
file with the same methods as ``BackupReader``, so one restore path serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from taskagent_backup.errors import BackupFileError
from taskagent_backup.fileformat.reader import TableSection
from taskagent_backup.i18n import _

SUPPORTED_VERSIONS = ("1.0", "2.0")
LEGACY_SCHEMA = "public"
LEGACY_FORMAT = "taskagent-legacy"
AUTH_USERS = "auth.users"


def missing_auth_users_hint() -> str:
    """Return the advice for a restored user whose ``auth.users`` row is missing."""
    return _(
        "; old TaskAgent backups do not contain auth.users, so add "
        "--create-missing-auth-users to create an auth.users row (id, email, "
        "creation time) for each restored user that lacks one"
    )


def looks_like_legacy(first_bytes: bytes) -> bool:
    """Tell whether a file starting with ``first_bytes`` may be an old TaskAgent backup."""
    return first_bytes.lstrip()[:1] == b"{" and b'"format":"taskagent-backup"' not in first_bytes


def value_text(value: Any) -> str | None:
    """Return PostgreSQL's input text for one value of the old format."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass
class LegacyBackup:
    """An old TaskAgent backup loaded into memory; see the module docstring."""

    path: Path
    data: dict[str, list[dict[str, Any]]]
    header: dict[str, Any] = field(default_factory=dict)
    trailer: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> Iterator[TableSection]:
        """Yield one section per table, with the columns found in its rows."""
        for name, rows in self.data.items():
            columns = _column_names(rows)
            description = {
                "schema": LEGACY_SCHEMA,
                "name": name,
                "columns": [{"name": column, "type": None} for column in columns],
                "primary_key": ["id"] if "id" in columns else [],
                "foreign_keys": [],
                "estimated_rows": len(rows),
            }
            yield TableSection(schema=LEGACY_SCHEMA, name=name, table=description)

    def rows(self, section: TableSection) -> Iterator[bytes]:
        """Yield each row as a JSON array of text values in the section's column order."""
        columns = [column["name"] for column in section.table["columns"]]
        for row in self.data[section.name]:
            yield orjson.dumps([value_text(row.get(column)) for column in columns])
            section.rows_read += 1
        section.row_count = section.rows_read


def _column_names(rows: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return sorted(names)


def read_legacy(path: Path, content: bytes) -> LegacyBackup:
    """Parse ``content`` of ``path`` as an old TaskAgent backup.

    Raises ``BackupFileError`` when it is not valid JSON, has no supported
    ``metadata.version`` or a table is not a list of objects.
    """
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise BackupFileError(
            _("{path}: not a taskagent-backup file and not valid JSON: {error}").format(
                path=path, error=error
            )
        ) from None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict) or metadata.get("version") not in SUPPORTED_VERSIONS:
        version = metadata.get("version") if isinstance(metadata, dict) else None
        raise BackupFileError(
            _(
                "{path}: not a taskagent-backup file, and not an old TaskAgent backup "
                "either (metadata.version is {version!r}; supported: {supported})"
            ).format(path=path, version=version, supported=", ".join(SUPPORTED_VERSIONS))
        )
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, rows in document.items():
        if name == "metadata":
            continue
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise BackupFileError(
                _("{path}: table {table!r} is not a list of row objects").format(
                    path=path, table=name
                )
            )
        tables[name] = rows
    header = {
        "format": LEGACY_FORMAT,
        "version": metadata["version"],
        "created_at": metadata.get("created_at"),
    }
    trailer = {"sequences": [], "schema": {"embedded": False, "reason": "old TaskAgent backup"}}
    return LegacyBackup(path=path, data=tables, header=header, trailer=trailer)


async def create_auth_user_stubs(connection: Any, stage: str, description: dict[str, Any]) -> int:
    """Add an ``auth.users`` row for each staged legacy user whose id is missing there.

    TaskAgent's ``public.users.id`` references ``auth.users(id)``, which the
    old script did not back up; the stub carries the id, the email and the
    creation time.  Returns the number of rows created.
    """
    columns = [column["name"] for column in description["columns"]]
    present = [name for name in ("id", "email", "created_at") if name in columns]
    values = ", ".join(f"(r->>{columns.index(name)})::{_AUTH_TYPES[name]}" for name in present)
    status = await connection.execute(
        f"INSERT INTO auth.users ({', '.join(present)}) SELECT {values} FROM {stage} "
        "ON CONFLICT (id) DO NOTHING"
    )
    return int(status.split()[-1])


_AUTH_TYPES = {"id": "uuid", "email": "text", "created_at": "timestamptz"}
