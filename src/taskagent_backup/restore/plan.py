"""The target's catalog facts a restore needs, and the order to load tables in.

Tables are loaded parents first, following the target's foreign keys.  A
self-reference needs no care because PostgreSQL checks a non-deferred
foreign key at the end of each statement, and one INSERT loads the table.
A cycle between tables is broken by taking the foreign keys of one table
in the cycle out of the ordering.  The loader defers those keys when they
are deferrable.  Otherwise it drops them and re-adds them after loading,
which validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taskagent_backup.snapshot.catalog import ForeignKey, Table, discover_tables

COLUMN_FACTS_QUERY = """
SELECT attrelid AS table_oid, attname AS name, atthasdef AS has_default,
       format_type(atttypid, NULL) AS base_type
FROM pg_attribute
WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped
"""

OUTSIDE_REFERENCES_QUERY = """
SELECT DISTINCT format('%s.%s', cn.nspname, c.relname) AS referencing,
       format('%s.%s', rn.nspname, r.relname) AS referenced
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_class r ON r.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE con.contype = 'f' AND con.confrelid = ANY($1::oid[]) AND NOT con.conrelid = ANY($1::oid[])
ORDER BY 1, 2
"""

USER_TRIGGERS_QUERY = """
SELECT tgrelid AS table_oid, tgname AS name, tgenabled::text AS enabled
FROM pg_trigger
WHERE tgrelid = ANY($1::oid[]) AND NOT tgisinternal AND tgenabled <> 'D'
ORDER BY tgrelid, tgname
"""


# Without a modifier these two types mean length 1, so a cast to them would
# fail or truncate.  Their unbounded relatives read any length, and the
# assignment to the column then checks the length.
UNBOUNDED_TYPES = {"bit": "bit varying", "character": "bpchar"}


def unbounded_type(base_type: str) -> str:
    """Return the type to cast a column's text to, given its type without a modifier."""
    element, brackets = base_type.removesuffix("[]"), base_type.endswith("[]")
    element = UNBOUNDED_TYPES.get(element, element)
    return element + "[]" if brackets else element


# Plain indexes that nothing else needs: rebuilding one after a bulk load is
# several times faster than updating it row by row.  Indexes behind
# constraints, with dependents, comments, a tablespace or CLUSTER marks are
# kept, because dropping and re-creating them could lose something.  So are
# indexes of partitioned tables, which pg_get_indexdef returns as ON ONLY.
REBUILDABLE_INDEXES_QUERY = """
SELECT format('%s.%s', tn.nspname, t.relname) AS table_name,
       format('%I.%I', n.nspname, c.relname) AS name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE i.indrelid = ANY($1::oid[]) AND c.relkind = 'i' AND i.indisvalid AND NOT i.indisprimary
  AND NOT i.indisclustered AND c.reltablespace = 0
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_description e WHERE e.objoid = i.indexrelid)
ORDER BY 2
"""


@dataclass
class TargetTable:
    """A table of the target database with the column facts that loading needs.

    ``base_types`` maps each column to its type without a type modifier: the
    loader casts to it and lets the assignment apply the column's modifier,
    because an explicit cast to ``varchar(n)`` or ``bit(n)`` silently truncates.
    """

    table: Table
    columns_with_default: set[str] = field(default_factory=set)
    base_types: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return self.table.qualified_name


async def read_target_tables(connection: Any, schemas: list[str]) -> dict[str, TargetTable]:
    """Return the target's tables of ``schemas`` by ``schema.name``."""
    tables = await discover_tables(connection, schemas, ["*"], [])
    by_oid = {table.oid: TargetTable(table) for table in tables}
    for row in await connection.fetch(COLUMN_FACTS_QUERY, list(by_oid)):
        target = by_oid[row["table_oid"]]
        target.base_types[row["name"]] = unbounded_type(row["base_type"])
        if row["has_default"]:
            target.columns_with_default.add(row["name"])
    return {target.qualified_name: target for target in by_oid.values()}


async def outside_references(connection: Any, tables: list[Table]) -> list[tuple[str, str]]:
    """Return (referencing, referenced) pairs where a table outside ``tables`` has a
    foreign key to one inside."""
    rows = await connection.fetch(OUTSIDE_REFERENCES_QUERY, [table.oid for table in tables])
    return [(row["referencing"], row["referenced"]) for row in rows]


async def enabled_user_triggers(
    connection: Any, tables: list[Table]
) -> list[tuple[Table, str, str]]:
    """Return (table, trigger name, pg_trigger.tgenabled) for each enabled user trigger."""
    by_oid = {table.oid: table for table in tables}
    rows = await connection.fetch(USER_TRIGGERS_QUERY, list(by_oid))
    return [(by_oid[row["table_oid"]], row["name"], row["enabled"]) for row in rows]


@dataclass(frozen=True)
class PlainIndex:
    """An index that can be dropped before loading and built again afterwards."""

    table: str
    name: str
    definition: str


async def rebuildable_indexes(connection: Any, tables: list[Table]) -> list[PlainIndex]:
    """Return the plain indexes of ``tables`` with their CREATE INDEX statements."""
    rows = await connection.fetch(REBUILDABLE_INDEXES_QUERY, [table.oid for table in tables])
    return [PlainIndex(row["table_name"], row["name"], row["definition"]) for row in rows]


def referenced_name(key: ForeignKey) -> str:
    """Return ``schema.table`` of the table ``key`` references."""
    return f"{key.ref_schema}.{key.ref_table}"


def load_order(tables: list[Table]) -> tuple[list[Table], list[tuple[Table, ForeignKey]]]:
    """Order ``tables`` parents first; return the order and the foreign keys
    that had to be set aside to break cycles.

    Only keys between two different tables of ``tables`` constrain the order.
    """
    by_name = {table.qualified_name: table for table in tables}
    waiting = {
        name: {referenced_name(key) for key in table.foreign_keys} & set(by_name) - {name}
        for name, table in by_name.items()
    }
    order: list[Table] = []
    set_aside: list[tuple[Table, ForeignKey]] = []
    while waiting:
        ready = sorted(name for name, parents in waiting.items() if not parents)
        if not ready:
            breaker = min(waiting)
            set_aside += _keys_between(by_name[breaker], set(waiting) - {breaker})
            waiting[breaker] = set()
            continue
        for name in ready:
            order.append(by_name[name])
            del waiting[name]
        for parents in waiting.values():
            parents.difference_update(ready)
    return order, set_aside


def _keys_between(table: Table, others: set[str]) -> list[tuple[Table, ForeignKey]]:
    return [(table, key) for key in table.foreign_keys if referenced_name(key) in others]


def children_of(parent: Table, tables: list[Table]) -> list[tuple[Table, ForeignKey]]:
    """Return (child, key) for every key of ``tables`` that references ``parent``,
    the parent's own self-references excluded."""
    return [
        (child, key)
        for child in tables
        for key in child.foreign_keys
        if referenced_name(key) == parent.qualified_name and child is not parent
    ]
