"""Check that a restored database contains exactly the source's rows.

Every table is read back with our own backup engine, uncompressed, and its
row count and SHA-256 compared with the source's.  The export orders rows
by primary key (or by the row's text) and writes each value's PostgreSQL
text form, so two databases with the same rows give the same digests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dataset import SCHEMAS
from pydantic import SecretStr

from taskagent_backup.backup import run_backup
from taskagent_backup.settings import BackupSettings, DatabaseSettings, Settings

TableDigests = dict[str, dict[str, object]]


async def table_digests(dsn: str, scratch: Path) -> TableDigests:
    """Return ``{table: {"rows": n, "sha256": hex}}`` for every table of ``dsn``.

    The temporary backup file is written to ``scratch`` and deleted.
    """
    settings = Settings(
        database=DatabaseSettings(dsn=SecretStr(dsn), schemas=SCHEMAS),
        backup=BackupSettings(
            directory=scratch, compression="none", embed_schema=False, free_space_reserve_mb=0
        ),
    )
    result = await run_backup(settings, "manual")
    shutil.rmtree(scratch, ignore_errors=True)
    return {table.name: {"rows": table.rows, "sha256": table.sha256} for table in result.tables}


def differences(expected: TableDigests, actual: TableDigests) -> list[str]:
    """List the tables whose rows differ, are missing or are extra, with counts."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if got is None:
            problems.append(f"{name}: missing in the restored database")
        elif want is None:
            problems.append(f"{name}: not in the source database")
        elif want != got:
            problems.append(f"{name}: {got['rows']} rows restored, {want['rows']} expected, "
                            "or the same count with different values")
    return problems
