"""Byte counts written for people."""

from __future__ import annotations

BINARY_UNITS = ("B", "KiB", "MiB", "GiB")
DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB")


def format_size(size: int, *, decimal: bool = False) -> str:
    """Return ``size`` bytes with one decimal in binary (KiB) or decimal (kB) units."""
    units, step = (DECIMAL_UNITS, 1000) if decimal else (BINARY_UNITS, 1024)
    value = float(size)
    for unit in units[:-1]:
        if value < step:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{value:.1f} {units[-1]}"
