"""Translations of messages for people (errors, summaries, help).

Messages are English in the code and translated with gettext from the
catalogs in ``locale/``; ``LANG=ja_JP.UTF-8`` selects Japanese.  Log events
stay English so that they can be searched and parsed.
"""

from __future__ import annotations

import gettext
from pathlib import Path

DOMAIN = "taskagent_backup"
LOCALE_DIRECTORY = Path(__file__).parent / "locale"

_translation = gettext.translation(DOMAIN, LOCALE_DIRECTORY, fallback=True)


def _(message: str) -> str:
    """Return ``message`` translated for the current locale."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form of a message, translated."""
    return _translation.ngettext(singular, plural, count)
