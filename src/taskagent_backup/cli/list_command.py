"""``taskagent-backup list``: the backups in the backup directory, oldest first."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from taskagent_backup.catalog import BackupEntry, scan_directory
from taskagent_backup.cli.pipes import quiet_on_broken_pipe
from taskagent_backup.i18n import _, display_width
from taskagent_backup.settings import load_settings
from taskagent_backup.sizes import format_size

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``list`` subcommand."""
    parser = subparsers.add_parser(
        "list", parents=[common], help=_("list the backups and whether they are good"),
        description=_(
            "List every backup in the backup directory with its kind, start time "
            "(local time zone), size, tables, rows, state and check results."
        ),
    )
    parser.add_argument("--json", action="store_true", help=_("print one JSON document"))
    add_identity_argument(parser)
    parser.set_defaults(handler=handle)


def add_identity_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--identity FILE`` option for encrypted backups."""
    parser.add_argument(
        "--identity", action="append", type=Path, default=[], metavar="FILE",
        help=_("age identity file to decrypt and check encrypted backups (repeatable)"),
    )


@quiet_on_broken_pipe
def handle(arguments: argparse.Namespace) -> int:
    """Print the catalog as a table or as JSON and return 0."""
    settings = load_settings(arguments.config)
    entries = scan_directory(settings.backup.directory, arguments.identity)
    if arguments.json:
        document = {
            "directory": str(settings.backup.directory),
            "backups": [entry.to_json() for entry in entries],
        }
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    if not entries:
        print(_("no backups in {directory}").format(directory=settings.backup.directory))
        return 0
    print_table(entries, settings.schedule.zone())

    return 0


def print_table(entries: list[BackupEntry], zone: tzinfo) -> None:
    """Print one aligned row per entry, times converted to ``zone``."""
    header = [_("TIME"), _("KIND"), _("SIZE"), _("TABLES"), _("ROWS"), _("STATE"),
              _("VERIFIED"), _("DRILLED"), _("FILE")]
    rows = [header] + [_table_row(entry, zone) for entry in entries]
    widths = [
        max(display_width(row[column]) for row in rows) for column in range(len(header) - 1)
    ]
    for row in rows:
        cells = [
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=False)
        ]
        print("  ".join([*cells, row[-1]]))


def _table_row(entry: BackupEntry, zone: tzinfo) -> list[str]:
    return [
        format_local_time(entry.started_at, zone),
        entry.kind + (f" ({entry.label})" if entry.label else ""),
        format_size(entry.size),
        "-" if entry.tables is None else str(entry.tables),
        "-" if entry.rows is None else str(entry.rows),
        describe_state(entry),
        _check_text(entry.verified),
        _check_text(entry.drilled),
        entry.name,
    ]


def format_local_time(moment: datetime, zone: tzinfo) -> str:
    """Return ``moment`` in ``zone`` as ``YYYY-MM-DD HH:MM ZONE``."""
    return moment.astimezone(zone).strftime(TIME_FORMAT)


def describe_state(entry: BackupEntry) -> str:
    """Return the entry's state as shown to people."""
    states = {
        "good": _("good"),
        "encrypted": _("encrypted, not checked"),
        "damaged": _("DAMAGED"),
        "foreign": _("not ours"),
    }
    if entry.verified is False:
        return _("FAILED VERIFY")
    if entry.state == "encrypted" and entry.verified:
        return _("encrypted, verified")
    return states[entry.state]


def _check_text(outcome: bool | None) -> str:
    if outcome is None:
        return "-"
    return _("yes") if outcome else _("FAILED")
