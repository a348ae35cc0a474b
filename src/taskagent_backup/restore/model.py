"""Options and results of a restore, shared by the restore modules and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from taskagent_backup.errors import UsageError
from taskagent_backup.i18n import _

RestoreMode = Literal["replace", "insert-missing", "fail-on-conflict"]
RESTORE_MODES: tuple[RestoreMode, ...] = ("replace", "insert-missing", "fail-on-conflict")


@dataclass
class RestoreOptions:
    """The tables, rows and mode of one restore.

    ``tables`` empty and ``where`` empty means every table of the backup.
    ``mode`` of ``None`` picks ``replace`` for whole tables and
    ``insert-missing`` when ``where`` selects rows.  ``dsn_source`` names
    where the target's DSN came from for connection errors, ``None`` meaning
    the ``[database]`` section.
    """

    tables: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)
    with_dependents: bool = False
    mode: RestoreMode | None = None
    dry_run: bool = False
    create_schema: bool = False
    create_missing_auth_users: bool = False
    identity_paths: list[Path] = field(default_factory=list)
    dsn_source: str | None = None

    def check(self) -> None:
        """Raise ``UsageError`` for combinations that would lose rows."""
        if self.where and self.mode == "replace":
            raise UsageError(
                _(
                    "--mode replace empties whole tables, so with --where it would delete every "
                    "row that the condition does not select; use --mode insert-missing or "
                    "fail-on-conflict"
                )
            )

    def effective_mode(self) -> RestoreMode:
        """Return the mode, resolving the default described above."""
        if self.mode is not None:
            return self.mode
        return "insert-missing" if self.where else "replace"


@dataclass
class TableOutcome:
    """The outcome for one table, or the expected outcome in a dry run."""

    table: str
    rows_in_backup: int = 0
    selected: int = 0
    inserted: int = 0
    replaced: int = 0
    conflicting: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    defaulted_columns: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class RestoreResult:
    """The outcome of a restore; ``committed`` is false after a dry run."""

    backup: Path
    target: str
    mode: RestoreMode
    committed: bool
    schema_created: bool
    seconds: float
    tables: list[TableOutcome] = field(default_factory=list)
    sequences_set: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def inserted(self) -> int:
        return sum(outcome.inserted for outcome in self.tables)

    @property
    def failed(self) -> bool:
        return any(outcome.error for outcome in self.tables)
