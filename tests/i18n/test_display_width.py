"""``display_width`` counts the terminal columns of translated table cells."""

from __future__ import annotations

import pytest

from taskagent_backup.i18n import display_width


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("", 0),
        ("FILE", 4),
        ("ファイル", 8),
        ("暗号化 (未検査)", 15),
        ("\uff21\uff22", 4),  # fullwidth "AB"
    ],
)
def test_display_width_counts_wide_as_two(text: str, columns: int) -> None:
    assert display_width(text) == columns
