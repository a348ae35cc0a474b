"""Entry point of ``taskagent-backup``: dispatch to one subcommand module.

Each module in ``COMMAND_MODULES`` provides ``register(subparsers)``, which
adds its subparser and sets ``handler`` to a function taking the parsed
arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from taskagent_backup.cli.pipes import quiet_on_broken_pipe
from taskagent_backup.errors import BackupToolError
from taskagent_backup.i18n import _, translate_argparse
from taskagent_backup.logging_setup import configure_logging

COMMAND_MODULES = (
    "taskagent_backup.cli.run_command",
    "taskagent_backup.cli.demo_command",
    "taskagent_backup.cli.list_command",
    "taskagent_backup.cli.status_command",
    "taskagent_backup.cli.prune_command",
    "taskagent_backup.cli.restore_command",
    "taskagent_backup.cli.verify_command",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    translate_argparse()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS,
        help=_("path of the TOML configuration (default: /etc/taskagent-backup/config.toml)"),
    )
    parser = argparse.ArgumentParser(
        prog="taskagent-backup",
        description=_("List, verify and restore TaskAgent database backups."),
        parents=[common],
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    os.umask(0o077)
    # Log events go to stderr so that stdout holds only a command's output,
    # such as `list --json`; subcommands may raise the level from settings.
    configure_logging("warning", sys.stderr)
    arguments = build_parser().parse_args(argv)
    if not hasattr(arguments, "config"):
        arguments.config = None
    try:
        return int(quiet_on_broken_pipe(arguments.handler)(arguments))
    except BackupToolError as error:
        print(f"taskagent-backup: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(_("taskagent-backup: interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
