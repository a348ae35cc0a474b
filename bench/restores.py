"""The restore commands to time: pg_restore, and ours when it exists.

The options of ``taskagent-backup restore`` are read from the installed
CLI's help.  When the subcommand is missing, or lacks an option a plan
needs, the step is reported as not measured, with the reason, and the run
goes on.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steps import Context

RestorePlan = tuple[str, list[str] | None, bool, str]
# Options that skip an interactive confirmation, in the order they are tried.
CONFIRM_OPTIONS = ("--yes", "--force")


def restore_help(context: Context) -> str | None:
    """Return ``taskagent-backup restore --help`` output, or None without the subcommand."""
    from steps import BIN

    try:
        result = subprocess.run(
            [str(BIN / "taskagent-backup"), "restore", "--help"],
            capture_output=True, text=True, timeout=60, env=context.environment, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def pg_restore_plans(context: Context) -> list[RestorePlan]:
    """Return pg_restore of the -Fc dump: data only into a schema-only copy, and full.

    pg_restore loads data-only tables in name order, not foreign key order,
    so the data-only run needs ``--disable-triggers`` (superuser only).
    That also skips every foreign key check, which our restore still does.
    """
    assert context.custom_dump is not None
    dump = str(context.custom_dump)
    target = context.libpq_arguments("restore_target")
    return [
        ("pg_restore --data-only",
         [context.tool("pg_restore"), "--data-only", "--disable-triggers", *target, dump],
         True, ""),
        ("pg_restore (full)", [context.tool("pg_restore"), *target, dump], False, ""),
    ]


def our_restore_plans(context: Context) -> list[RestorePlan]:
    """Return our restore of the zstd backup: into the schema-only copy, and from scratch."""
    from steps import BIN, write_config

    names = ("taskagent-backup restore (data only)", "taskagent-backup restore --create-schema")
    help_text = restore_help(context)
    if help_text is None or context.our_backup is None:
        reason = ("the 'taskagent-backup restore' subcommand does not exist yet"
                  if help_text is None else "no backup file was written")
        schema_first = (True, False)
        return [(name, None, first, reason)
                for name, first in zip(names, schema_first, strict=True)]

    config = write_config(context.work / "configs" / "restore.toml",
                          context.server.dsn("restore_target"), context.work / "unused",
                          "zstd", True)
    base = [str(BIN / "taskagent-backup"), "restore", "--config", str(config)]
    base += [option for option in CONFIRM_OPTIONS if option in help_text][:1]
    backup = str(context.our_backup)
    plans: list[RestorePlan] = [(names[0], [*base, backup], True, "")]
    if "--create-schema" in help_text:
        plans.append((names[1], [*base, "--create-schema", backup], False, ""))
    else:
        plans.append((names[1], None, False, "the restore command has no --create-schema"))
    return plans


def restore_steps(context: Context) -> list[RestorePlan]:
    """Return every restore to time, pg_restore first."""
    return pg_restore_plans(context) + our_restore_plans(context)
