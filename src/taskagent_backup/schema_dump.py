"""Embed ``pg_dump --schema-only`` output so a backup can rebuild an empty database.

pg_dump is the trusted way to capture tables, types, constraints, indexes,
triggers and row-level security policies.  It runs on the backup's exported
snapshot (``--snapshot``), so the schema matches the rows exactly.  A
pg_dump older than the server cannot read it, so only a binary of the
server's major version or newer is used.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import structlog

from taskagent_backup.dsn import ConnectionTarget

log = structlog.get_logger(__name__)

PG_DUMP_TIMEOUT_SECONDS = 600
VERSION_PATTERN = re.compile(r"\(PostgreSQL\) (\d+)")


@dataclass
class SchemaDump:
    """The result of trying to capture the schema."""

    sql: str | None
    pg_dump_version: str | None
    reason: str | None = None

    def describe(self) -> dict[str, Any]:
        """Return the trailer's ``schema`` entry."""
        if self.sql is None:
            return {"embedded": False, "reason": self.reason}
        return {"embedded": True, "pg_dump": self.pg_dump_version, "sql": self.sql}


def find_pg_dump(server_major: int) -> tuple[str, str] | None:
    """Return the path and version line of the best pg_dump for ``server_major``.

    Prefers the exact major version, then the oldest newer one.  Looks in
    Debian's ``/usr/lib/postgresql/*/bin`` and on ``PATH``.
    """
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(on_path)
    usable: list[tuple[int, str, str]] = []
    for candidate in candidates:
        try:
            output = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, timeout=10, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = VERSION_PATTERN.search(output)
        if match and int(match.group(1)) >= server_major:
            usable.append((int(match.group(1)), candidate, output.strip()))
    if not usable:
        return None
    _, path, version = min(usable)
    return path, version


async def dump_schema(
    target: ConnectionTarget, schemas: list[str], server_version_num: int, snapshot_id: str
) -> SchemaDump:
    """Run pg_dump --schema-only on ``snapshot_id``; never raises.

    Failure is returned as a ``SchemaDump`` without SQL and logged as a
    warning, because the rows can still be backed up and restored into an
    existing schema.
    """
    server_major = server_version_num // 10000
    found = await asyncio.to_thread(find_pg_dump, server_major)
    if found is None:
        return _not_embedded(f"no pg_dump of version {server_major} or newer was found", None)
    path, version = found

    arguments = [
        path, "--schema-only", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}"
    ]
    arguments += [f"--schema={schema}" for schema in schemas]
    arguments += ["--extension=*"]
    environment = {**os.environ, **target.libpq_environment()}
    try:
        process = await asyncio.create_subprocess_exec(
            *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
    except OSError as error:
        return _not_embedded(f"cannot run {path}: {error.strerror}", version)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), PG_DUMP_TIMEOUT_SECONDS)
    except BaseException as error:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if isinstance(error, TimeoutError):
            return _not_embedded(
                f"pg_dump did not finish within {PG_DUMP_TIMEOUT_SECONDS} s", version
            )
        raise
    if process.returncode != 0:
        reason = f"pg_dump failed: {stderr.decode(errors='replace').strip()}"
        if target.password:
            reason = reason.replace(target.password, "***")
        return _not_embedded(reason, version)
    return SchemaDump(stdout.decode("utf-8"), version)


def _not_embedded(reason: str, version: str | None) -> SchemaDump:
    log.warning("schema_not_embedded", reason=reason)
    return SchemaDump(None, version, reason)
