"""Backup file names: ``<kind>_backup_YYYYMMDD_HHMMSS[_label].json[.zst|.gz][.age]``.

The pattern is the one the old TaskAgent backup script used, so existing
habits and scripts keep working; the time is the backup's start in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from taskagent_backup.i18n import _

KINDS = ("daily", "weekly", "manual", "pre-migration")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NAME_PATTERN = re.compile(
    r"^(?P<kind>daily|weekly|manual|pre-migration)_backup_"
    r"(?P<stamp>\d{8}_\d{6})(?:_(?P<label>[A-Za-z0-9][A-Za-z0-9_-]{0,63}))?"
    r"\.json(?P<compression>\.zst|\.gz)?(?P<encrypted>\.age)?$"
)
STAMP_FORMAT = "%Y%m%d_%H%M%S"


@dataclass(frozen=True)
class BackupName:
    """The facts encoded in a backup file's name."""

    kind: str
    started_at: datetime
    label: str | None
    compression: str
    encrypted: bool


def check_label(label: str) -> str:
    """Return ``label`` when it is a valid backup label; raise ``ValueError`` otherwise."""
    if not LABEL_PATTERN.match(label):
        raise ValueError(
            _(
                "invalid label {label!r}: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or digit"
            ).format(label=label)
        )
    return label


def label_argument(text: str) -> str:
    """Check a ``--label`` value for argparse; raise ``ArgumentTypeError`` when invalid."""
    import argparse

    try:
        return check_label(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def backup_file_name(
    kind: str, started_at: datetime, compression: str, encrypted: bool, label: str | None = None
) -> str:
    """Return the file name for a backup of ``kind`` started at ``started_at``."""
    if kind not in KINDS:
        raise ValueError(
            _("unknown backup kind {kind!r}; allowed: {allowed}").format(
                kind=kind, allowed=", ".join(KINDS)
            )
        )
    if label is not None:
        check_label(label)
    stamp = started_at.astimezone(UTC).strftime(STAMP_FORMAT)
    suffix = {"zstd": ".zst", "gzip": ".gz", "none": ""}[compression]
    label_part = f"_{label}" if label else ""
    return f"{kind}_backup_{stamp}{label_part}.json{suffix}{'.age' if encrypted else ''}"


def parse_backup_file_name(name: str) -> BackupName | None:
    """Return what ``name`` encodes, or ``None`` for a file that is not a backup."""
    match = NAME_PATTERN.match(name)
    if not match:
        return None
    compression = {".zst": "zstd", ".gz": "gzip", None: "none"}[match["compression"]]
    return BackupName(
        kind=match["kind"],
        started_at=datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC),
        label=match["label"],
        compression=compression,
        encrypted=match["encrypted"] is not None,
    )
