"""The system's time zone as a ``zoneinfo.ZoneInfo``."""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path

ZONEINFO_MARKER = "zoneinfo/"


def system_zone() -> zoneinfo.ZoneInfo:
    """Return the zone named by ``TZ`` or ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return zoneinfo.ZoneInfo("UTC")
    if ZONEINFO_MARKER in target:
        try:
            return zoneinfo.ZoneInfo(target.split(ZONEINFO_MARKER, 1)[1])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    timezone_file = Path("/etc/timezone")
    if timezone_file.exists():
        try:
            return zoneinfo.ZoneInfo(timezone_file.read_text().strip())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return zoneinfo.ZoneInfo("UTC")
