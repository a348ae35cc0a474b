"""Restore backups into PostgreSQL: whole databases, chosen tables or chosen rows.

``run_restore`` is the entry point; the modules follow the flow of a restore:
``source`` (current or old format) → ``schema`` (optional ``--create-schema``)
→ ``plan`` (target catalog, load order) → ``drift`` (column mapping) →
``load`` (staging and inserting) → ``sequences``.
"""

from taskagent_backup.restore.engine import run_restore
from taskagent_backup.restore.model import RestoreOptions, RestoreResult, TableOutcome

__all__ = ["RestoreOptions", "RestoreResult", "TableOutcome", "run_restore"]
