"""Encrypted backups verify and restore with the operator's identity file."""

from __future__ import annotations

from pathlib import Path

import pyrage

from taskagent_backup.verify import verify_backup
from tests.conftest import NewDatabase
from tests.restore.helpers import back_up, restore, table_texts


async def test_encrypted_backup_restores_with_identity(
    taskagent_dsn: str, new_database: NewDatabase, tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "identity.txt"
    identity_file.write_text(str(identity) + "\n")
    path = await back_up(
        taskagent_dsn, tmp_path / "backups", backup={"encrypt_to": [str(identity.to_public())]}
    )
    target = await new_database("encrypted")

    assert verify_backup(path, [identity_file]).rows == 897
    await restore(path, target, create_schema=True, identity_paths=[identity_file])

    assert await table_texts(target) == await table_texts(taskagent_dsn)
