"""Map a backup's columns onto the target table's columns by name.

A backup taken before a migration restores into the migrated schema when
every column it still has keeps a compatible type.  Columns the target added
get their defaults, and columns the target dropped are reported.  Stored
generated columns are left for PostgreSQL to compute.  Incompatible types
make the whole restore fail with one line per column and table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from taskagent_backup.i18n import _
from taskagent_backup.restore.plan import TargetTable

TYPE_MODIFIER = re.compile(r"\(\d+(?:,\d+)?\)")
TEXT_TYPES = frozenset({"text", "character varying", "character"})
# Widenings whose text input always reads the narrower type's text form.
WIDER_TYPES = {
    "smallint": {"integer", "bigint", "numeric"},
    "integer": {"bigint", "numeric"},
    "bigint": {"numeric"},
    "real": {"double precision"},
    "json": {"jsonb"},
    "timestamp without time zone": {"timestamp with time zone"},
}


@dataclass
class ColumnMapping:
    """The mapping from positions in a backup row to target columns."""

    table: TargetTable
    positions: list[int] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def overriding_system_value(self) -> bool:
        """Tell whether an ``identity ALWAYS`` column receives backup values."""
        return any(
            column.identity == "always" and column.name in self.columns
            for column in self.table.table.columns
        )


def strip_modifier(type_name: str) -> str:
    """Return ``type_name`` without its length, precision or scale."""
    return TYPE_MODIFIER.sub("", type_name)


def is_compatible(backup_type: str | None, target_type: str) -> bool:
    """Tell whether values of ``backup_type`` in text form load into ``target_type``.

    ``None`` (old backups carry no types) is accepted; values are then
    checked by the type's input function as they load.
    """
    if backup_type is None or backup_type == target_type:
        return True
    old, new = strip_modifier(backup_type), strip_modifier(target_type)
    if old == new or new in TEXT_TYPES:
        return True
    return new in WIDER_TYPES.get(old, set())


def map_columns(
    description: dict[str, Any], target: TargetTable, *, has_rows: bool = True
) -> ColumnMapping:
    """Match the backup ``description``'s columns to ``target``'s by name.

    ``has_rows`` false (the backup's table is empty) skips the check for
    NOT NULL columns missing from the backup, because zero rows cannot
    violate NOT NULL.  An old TaskAgent backup lists no columns for an
    empty table, so without this every such column would be reported.
    """
    mapping = ColumnMapping(table=target)
    target_columns = {column.name: column for column in target.table.columns}
    for position, column in enumerate(description.get("columns", [])):
        name = column["name"]
        current = target_columns.get(name)
        if current is None:
            mapping.dropped.append(name)
        elif current.generated:
            continue
        elif not is_compatible(column.get("type"), current.type):
            mapping.problems.append(
                _("{column}: backup has {backup_type}, database has {database_type}").format(
                    column=f"{target.qualified_name}.{name}",
                    backup_type=column["type"],
                    database_type=current.type,
                )
            )
        else:
            mapping.positions.append(position)
            mapping.columns.append(name)
    _check_added_columns(mapping, target_columns, has_rows)
    return mapping


def _check_added_columns(
    mapping: ColumnMapping, target_columns: dict[str, Any], has_rows: bool
) -> None:
    restored = set(mapping.columns)
    for name, column in target_columns.items():
        if name in restored or column.generated:
            continue
        if (
            has_rows
            and column.not_null
            and name not in mapping.table.columns_with_default
            and not column.identity
        ):
            mapping.problems.append(
                _(
                    "{column}: column is NOT NULL without a default "
                    "and the backup has no values for it"
                ).format(column=f"{mapping.table.qualified_name}.{name}")
            )
        else:
            mapping.defaulted.append(name)
