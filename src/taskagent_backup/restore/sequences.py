"""Move serial and identity sequences past the restored rows.

After loading, each sequence owned by a column of a restored table is set
so the next insert does not collide.  The value is the greatest of the
column's maximum, the value recorded in the backup and, for row restores,
the sequence's current value.  A sequence with none of these starts over (``is_called`` false).
"""

from __future__ import annotations

from typing import Any

from taskagent_backup.snapshot.catalog import Table
from taskagent_backup.snapshot.export import qualified, quote_identifier

OWNED_SEQUENCES_QUERY = """
SELECT d.refobjid AS table_oid, a.attname AS column_name, n.nspname AS schema,
       s.relname AS name, seq.seqstart::text AS start_value,
       ps.last_value::text AS current_value
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_sequence seq ON seq.seqrelid = s.oid
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = s.relname
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::oid[])
ORDER BY n.nspname, s.relname
"""


def recorded_values(trailer: dict[str, Any]) -> dict[str, int]:
    """Return ``schema.name`` → last value of the sequences recorded in the backup."""
    values = {}
    for sequence in trailer.get("sequences", []):
        if sequence.get("last_value") is not None:
            values[f"{sequence['schema']}.{sequence['name']}"] = int(sequence["last_value"])
    return values


async def reset_sequences(
    connection: Any, tables: list[Table], recorded: dict[str, int], *, keep_current: bool
) -> int:
    """Set every sequence owned by a column of ``tables``; return how many were set.

    ``keep_current`` also counts the sequence's current value, for restores
    that add rows to a table instead of replacing its contents.
    """
    by_oid = {table.oid: table for table in tables}
    rows = await connection.fetch(OWNED_SEQUENCES_QUERY, list(by_oid))
    for row in rows:
        table = by_oid[row["table_oid"]]
        maximum = await connection.fetchval(
            f"SELECT max({quote_identifier(row['column_name'])})::text "
            f"FROM {qualified(table.schema, table.name)}"
        )
        candidates = [recorded.get(f"{row['schema']}.{row['name']}")]
        candidates.append(int(maximum) if maximum is not None else None)
        if keep_current and row["current_value"] is not None:
            candidates.append(int(row["current_value"]))
        await _set(
            connection, qualified(row["schema"], row["name"]), candidates, row["start_value"]
        )
    return len(rows)


async def _set(connection: Any, sequence: str, candidates: list[int | None], start: str) -> None:
    # NOTE: assumes ascending sequences; a descending one would need the minimum.
    known = [value for value in candidates if value is not None]
    if known:
        await connection.execute("SELECT setval($1::regclass, $2, true)", sequence, max(known))
    else:
        await connection.execute(
            "SELECT setval($1::regclass, $2::bigint, false)", sequence, int(start)
        )
