"""Apply the ``pg_dump --schema-only`` output embedded in a backup.

The SQL runs inside the restore's transaction, so a failure leaves the
target database as it was.  Three adjustments make pg_dump's plain output
run outside psql:

* pg_dump from the August 2025 minor releases on (15.14 here) writes the
  psql meta-commands ``\\restrict KEY`` and ``\\unrestrict KEY`` around the
  script.  They only guard psql against injected meta-commands, so they are
  removed.
* ``CREATE SCHEMA public`` fails in a new database, which already has it,
  so schemas are created with ``IF NOT EXISTS``.
* The script empties ``search_path`` for the session; the restore puts the
  previous value back afterwards.

Roles named by row-level security policies are cluster-wide and are not in
the dump.  They are not created here, because a role is a security decision:
a missing one makes the restore fail with the ``CREATE ROLE`` to run.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from taskagent_backup.errors import RestoreError
from taskagent_backup.i18n import _

PSQL_RESTRICT_LINE = re.compile(r"^\\(?:un)?restrict\s+\S+\s*$", re.MULTILINE)
META_COMMAND_LINE = re.compile(r"^\\\S+", re.MULTILINE)
CREATE_SCHEMA = re.compile(r"^CREATE SCHEMA (?!IF NOT EXISTS)", re.MULTILINE)
POLICY_ROLES = re.compile(
    r"^CREATE POLICY .*? TO (.+?)(?:\s+USING\b|\s+WITH CHECK\b|;)", re.MULTILINE | re.DOTALL
)
ROLE_KEYWORDS = frozenset({"public", "current_user", "session_user", "current_role"})

TABLES_IN_SCHEMAS_QUERY = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[])
"""


def prepare_schema_sql(sql: str) -> str:
    """Return pg_dump's script adjusted as the module docstring describes.

    Raises ``RestoreError`` when another psql meta-command remains.
    """
    script = PSQL_RESTRICT_LINE.sub("", sql)
    other = META_COMMAND_LINE.search(script)
    if other:
        raise RestoreError(
            _(
                "the embedded schema contains the psql command {command!r}, which "
                "cannot run here; apply the schema with psql, then restore without "
                "--create-schema"
            ).format(command=other.group(0))
        )
    return CREATE_SCHEMA.sub("CREATE SCHEMA IF NOT EXISTS ", script)


def policy_roles(sql: str) -> set[str]:
    """Return the role names that the script's CREATE POLICY statements grant to."""
    roles: set[str] = set()
    for match in POLICY_ROLES.finditer(sql):
        for role in match.group(1).split(","):
            name = role.strip()
            if name.lower() not in ROLE_KEYWORDS:
                roles.add(name[1:-1].replace('""', '"') if name.startswith('"') else name)
    return roles


async def apply_schema(connection: Any, trailer: dict[str, Any], schemas: list[str]) -> None:
    """Create the backup's schema in an empty target database.

    Raises ``RestoreError`` when the backup has no embedded schema, the
    target already has tables in ``schemas``, a policy's role is missing or
    the SQL fails.
    """
    embedded = trailer.get("schema") or {}
    if not embedded.get("embedded"):
        reason = embedded.get("reason") or _("unknown reason")
        raise RestoreError(
            _(
                "--create-schema: the backup has no embedded schema ({reason}); create the "
                "schema in the target first, e.g. with the application's migrations"
            ).format(reason=reason)
        )
    existing = await connection.fetchval(TABLES_IN_SCHEMAS_QUERY, schemas)
    if existing:
        raise RestoreError(
            _(
                "--create-schema needs an empty database, but the target has {count} tables "
                "in schemas {schemas}; restore without --create-schema instead"
            ).format(count=existing, schemas=", ".join(schemas))
        )
    script = prepare_schema_sql(embedded["sql"])
    await _check_roles(connection, policy_roles(script))
    search_path = await connection.fetchval("SELECT current_setting('search_path')")
    try:
        await connection.execute(script)
    except asyncpg.PostgresError as error:
        raise RestoreError(
            _("--create-schema: the embedded schema failed to apply: {error}").format(error=error)
        ) from error
    await connection.execute("SELECT set_config('search_path', $1, false)", search_path)


async def _check_roles(connection: Any, roles: set[str]) -> None:
    if not roles:
        return
    present = await connection.fetch(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", sorted(roles)
    )
    missing = sorted(roles - {row["rolname"] for row in present})
    if missing:
        commands = " ".join(f'CREATE ROLE "{role}" NOLOGIN;' for role in missing)
        raise RestoreError(
            _(
                "--create-schema: row-level security policies name roles that do not exist "
                "on the target server: {roles}; create them first ({commands}) "
                "and run the restore again"
            ).format(roles=", ".join(missing), commands=commands)
        )
