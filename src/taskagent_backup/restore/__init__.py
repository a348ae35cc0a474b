"""Restore backups into PostgreSQL: whole databases, chosen tables or chosen rows.

``run_restore`` in ``engine`` is the entry point.  The other modules follow
the flow of a restore: ``source`` (current or old format), ``schema``
(``--create-schema``), ``plan`` (target catalog and load order), ``drift``
(column mapping), ``load`` (staging and inserting) and ``sequences``.
"""

from taskagent_backup.restore.engine import run_restore
from taskagent_backup.restore.model import RestoreOptions, RestoreResult, TableOutcome

__all__ = ["RestoreOptions", "RestoreResult", "TableOutcome", "run_restore"]
