"""Exceptions raised by taskagent-backup.

Every error the tool reports to a person derives from ``BackupToolError`` and
carries the process exit code that the command-line entry points use::

    BackupToolError                 exit 1
    ├── ConfigError                 exit 78 (EX_CONFIG): invalid settings
    ├── UsageError                  exit 64 (EX_USAGE): invalid command-line arguments
    ├── DatabaseError               exit 69 (EX_UNAVAILABLE): connect or query failed
    │   └── RowSecurityError        the role would see rows filtered by RLS
    ├── BackupFailed                exit 1: a backup run did not complete
    │   └── DiskSpaceError          exit 73 (EX_CANTCREAT): not enough free space
    ├── LockHeldError               exit 75 (EX_TEMPFAIL): another backup is running
    │   └── DaemonRunningError      another daemon serves the same backup directory
    ├── BackupFileError             exit 65 (EX_DATAERR): a backup file is invalid
    ├── BackupNotFoundError         exit 66 (EX_NOINPUT): a backup file is missing or unreadable
    ├── AgeIdentityError            exit 77 (EX_NOPERM): no given age identity decrypts the file
    └── RestoreError                exit 1: a restore was rolled back
        └── ForeignKeyRestoreError  a restored row references a missing row

``BackupNotFoundError`` and ``AgeIdentityError`` are no evidence about the
content of a backup, so they do not derive from ``BackupFileError``.  Neither
marks a file damaged or records a failed verification.

asyncpg and SQLAlchemy errors are translated into ``DatabaseError`` at the
database boundary with ``raise ... from`` so the original stays in tracebacks.
"""

from __future__ import annotations

from taskagent_backup.i18n import _

EX_USAGE = 64
EX_CONFIG = 78
EX_UNAVAILABLE = 69
EX_DATAERR = 65
EX_NOINPUT = 66
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77


class BackupToolError(Exception):
    """Base class for errors reported to the operator."""

    exit_code = 1


class ConfigError(BackupToolError):
    """The configuration is invalid; ``problems`` lists one message per bad key."""

    exit_code = EX_CONFIG

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        if source:
            heading = _("invalid configuration in {source}:").format(source=source)
        else:
            heading = _("invalid configuration:")
        super().__init__(heading + "\n  " + "\n  ".join(problems))


class UsageError(BackupToolError):
    """A command-line argument is malformed or names something that does not exist."""

    exit_code = EX_USAGE


class DatabaseError(BackupToolError):
    """Connecting to PostgreSQL or running a query failed."""

    exit_code = EX_UNAVAILABLE


class RowSecurityError(DatabaseError):
    """Row-level security would hide rows from the backup role."""


class BackupFailed(BackupToolError):
    """A backup run stopped before its file was complete."""


class DiskSpaceError(BackupFailed):
    """The backup directory has too little free space for a run."""

    exit_code = EX_CANTCREAT


class LockHeldError(BackupToolError):
    """Another process holds the backup lock."""

    exit_code = EX_TEMPFAIL

    def __init__(self, pid: int | None, lock_path: str) -> None:
        self.pid = pid
        self.lock_path = lock_path
        holder = _("pid {pid}").format(pid=pid) if pid else _("unknown pid")
        super().__init__(
            _("another backup is running ({holder}); lock file {lock_path}").format(
                holder=holder, lock_path=lock_path
            )
        )


class BackupFileError(BackupToolError):
    """A backup file is truncated, edited, of an unknown version or unreadable."""

    exit_code = EX_DATAERR


class BackupNotFoundError(BackupToolError):
    """A backup file to read does not exist or cannot be opened."""

    exit_code = EX_NOINPUT


class AgeIdentityError(BackupToolError):
    """No age identity was given, none decrypts the backup, or an identity file is invalid.

    The file itself may be fine, so the catalog does not mark it damaged.
    """

    exit_code = EX_NOPERM


class RestoreError(BackupToolError):
    """A restore failed and its transaction was rolled back."""


class ForeignKeyRestoreError(RestoreError):
    """A restored row references a row that is not in ``referenced_table`` (``schema.name``)."""

    def __init__(self, message: str, referenced_table: str | None) -> None:
        super().__init__(message)
        self.referenced_table = referenced_table


class DaemonRunningError(LockHeldError):
    """Another ``taskagent-backupd`` already serves the backup directory."""

    def __init__(self, pid: int | None, lock_path: str) -> None:
        super().__init__(pid, lock_path)
        holder = _("pid {pid}").format(pid=pid) if pid else _("unknown pid")
        self.args = (
            _(
                "another taskagent-backupd is running for this backup directory ({holder}); "
                "lock file {lock_path}"
            ).format(holder=holder, lock_path=lock_path),
        )
