"""Translations of messages for people (errors, summaries, help).

Messages are written in English in the code and translated with gettext
from the catalogs in ``locale/<language>/LC_MESSAGES/taskagent_backup.po``;
``LANG=ja_JP.UTF-8`` selects Japanese.  The ``.po`` file is compiled in
memory with Babel when first needed, so no generated ``.mo`` file can fall
out of date.  Log events stay English so that they can be searched.
"""

from __future__ import annotations

import functools
import gettext
import io
import locale
import os
import unicodedata
from pathlib import Path

DOMAIN = "taskagent_backup"
LOCALE_DIRECTORY = Path(__file__).parent / "locale"


def requested_languages() -> list[str]:
    """Return the languages asked for by LANGUAGE, LC_ALL, LC_MESSAGES and LANG."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return [locale.normalize(part).split(".")[0] for part in value.split(":") if part]
    return []


def _catalog_for(language: str) -> Path | None:
    for candidate in (language, language.split("_")[0]):
        path = LOCALE_DIRECTORY / candidate / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            return path
    return None


@functools.cache
def translation() -> gettext.NullTranslations:
    """Return the translation for the current locale, or the identity one."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for language in requested_languages():
        if language in ("C", "POSIX"):
            break
        path = _catalog_for(language)
        if path is None:
            continue
        with path.open("rb") as stream:
            catalog = read_po(stream, locale=language.split("_")[0])
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)
    return gettext.NullTranslations()


def _(message: str) -> str:
    """Return ``message`` translated for the current locale."""
    return translation().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form of a message, translated."""
    return translation().ngettext(singular, plural, count)


def display_width(text: str) -> int:
    """Return how many terminal columns ``text`` takes.

    East Asian wide and fullwidth characters (kanji, kana) take two columns,
    so padding translated table cells with ``str.ljust`` would misalign them.
    """
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def translate_argparse() -> None:
    """Route argparse's own texts ("usage:", "error:", ...) through our catalog.

    argparse (Python 3.11) looks up its module-level ``_`` and ``ngettext``
    each time it builds a message, so replacing those two names translates
    every fixed text, including parse errors such as "the following
    arguments are required".  A custom help formatter would reach only the
    usage prefix and the section titles.  Idempotent; call it before parsing.
    """
    import argparse

    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]


def _argparse_messages() -> list[str]:
    # Never called: lists argparse's user-facing texts (Python 3.11) so that
    # ``./dev i18n`` extracts them into the catalog with argparse's exact msgids.
    return [
        _("usage: "),
        _("positional arguments"),
        _("options"),
        _("show this help message and exit"),
        _("%(prog)s: error: %(message)s\n"),
        _("argument %(argument_name)s: %(message)s"),
        _("the following arguments are required: %s"),
        _("one of the arguments %s is required"),
        _("unrecognized arguments: %s"),
        _("invalid choice: %(value)r (choose from %(choices)s)"),
        _("invalid %(type)s value: %(value)r"),
        _("expected one argument"),
        _("expected at most one argument"),
        _("expected at least one argument"),
        ngettext("expected %s argument", "expected %s arguments", 1),
        _("ambiguous option: %(option)s could match %(matches)s"),
        _("not allowed with argument %s"),
        _("ignored explicit argument %r"),
        _("unexpected option string: %s"),
        _("can't open '%(filename)s': %(error)s"),
    ]
