"""Discover the tables to back up, their columns, keys and dependencies."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

TABLES_QUERY = """
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       c.reltuples::bigint AS estimated_rows,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_table_size(i.inhrelid)), 0)::bigint
                  FROM pg_inherits i WHERE i.inhparent = c.oid)
            ELSE pg_table_size(c.oid) END AS size_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1::text[])
ORDER BY n.nspname, c.relname
"""

COLUMNS_QUERY = """
SELECT a.attrelid AS table_oid, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, a.attgenerated::text AS generated,
       a.attidentity::text AS identity
FROM pg_attribute a
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

PRIMARY_KEYS_QUERY = """
SELECT i.indrelid AS table_oid, array_agg(a.attname ORDER BY k.ordinality) AS columns
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY($1::oid[])
GROUP BY i.indrelid
"""

FOREIGN_KEYS_QUERY = """
SELECT con.conrelid AS table_oid, con.conname AS name,
       rn.nspname AS ref_schema, rc.relname AS ref_table,
       ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY k.o)
           AS columns,
       ARRAY(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n ORDER BY k.o)
           AS ref_columns,
       con.condeferrable AS deferrable,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class rc ON rc.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype = 'f' AND con.conrelid = ANY($1::oid[])
ORDER BY con.conrelid, con.conname
"""

SEQUENCES_QUERY = """
SELECT s.schemaname AS schema, s.sequencename AS name, s.last_value::text AS last_value,
       (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname)
        FROM pg_depend d
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
          AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LIMIT 1) AS owned_by
FROM pg_sequences s
WHERE s.schemaname = ANY($1::text[])
ORDER BY 1, 2
"""

@dataclass(frozen=True)
class Column:
    """A column and the facts a restore needs about it."""

    name: str
    type: str
    not_null: bool
    generated: bool
    identity: str | None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "not_null": self.not_null,
            "generated": self.generated,
            "identity": self.identity,
        }


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key from one table to another (or the same) table."""

    name: str
    columns: list[str]
    ref_schema: str
    ref_table: str
    ref_columns: list[str]
    deferrable: bool
    definition: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": self.columns,
            "references": {
                "schema": self.ref_schema,
                "table": self.ref_table,
                "columns": self.ref_columns,
            },
            "deferrable": self.deferrable,
            "definition": self.definition,
        }


@dataclass
class Table:
    """A table to back up."""

    oid: int
    schema: str
    name: str
    partitioned: bool
    estimated_rows: int
    size_bytes: int = 0
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def describe(self) -> dict[str, Any]:
        """Return the table's description as stored in the backup file."""
        return {
            "schema": self.schema,
            "name": self.name,
            "kind": "partitioned" if self.partitioned else "table",
            "columns": [column.describe() for column in self.columns],
            "primary_key": self.primary_key,
            "foreign_keys": [key.describe() for key in self.foreign_keys],
            "estimated_rows": max(self.estimated_rows, 0),
        }


def is_selected(schema: str, name: str, include: list[str], exclude: list[str]) -> bool:
    """Tell whether a table matches ``include`` and no ``exclude`` glob pattern.

    A pattern with a dot matches ``schema.table``; one without matches the
    table name in any configured schema.
    """

    def matches(pattern: str) -> bool:
        subject = f"{schema}.{name}" if "." in pattern else name
        return fnmatch.fnmatchcase(subject, pattern)

    return any(map(matches, include)) and not any(map(matches, exclude))


async def discover_tables(
    connection: Any, schemas: list[str], include: list[str], exclude: list[str]
) -> list[Table]:
    """Return the selected tables of ``schemas``, sorted by schema and name."""
    tables = [
        Table(
            oid=row["oid"],
            schema=row["schema"],
            name=row["name"],
            partitioned=row["relkind"] == "p",
            estimated_rows=row["estimated_rows"],
            size_bytes=row["size_bytes"],
        )
        for row in await connection.fetch(TABLES_QUERY, schemas)
        if is_selected(row["schema"], row["name"], include, exclude)
    ]
    by_oid = {table.oid: table for table in tables}
    oids = list(by_oid)

    for row in await connection.fetch(COLUMNS_QUERY, oids):
        by_oid[row["table_oid"]].columns.append(
            Column(
                name=row["name"],
                type=row["type"],
                not_null=row["not_null"],
                generated=row["generated"] == "s",
                identity={"a": "always", "d": "by default"}.get(row["identity"]),
            )
        )
    for row in await connection.fetch(PRIMARY_KEYS_QUERY, oids):
        by_oid[row["table_oid"]].primary_key = list(row["columns"])
    for row in await connection.fetch(FOREIGN_KEYS_QUERY, oids):
        by_oid[row["table_oid"]].foreign_keys.append(
            ForeignKey(
                name=row["name"],
                columns=list(row["columns"]),
                ref_schema=row["ref_schema"],
                ref_table=row["ref_table"],
                ref_columns=list(row["ref_columns"]),
                deferrable=row["deferrable"],
                definition=row["definition"],
            )
        )
    return tables


async def read_sequences(connection: Any, schemas: list[str]) -> list[dict[str, Any]]:
    """Return every sequence of ``schemas`` with its last value and owning column."""
    rows = await connection.fetch(SEQUENCES_QUERY, schemas)
    return [dict(row) for row in rows]
