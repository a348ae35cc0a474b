"""Check that ``--tables`` and ``--where`` name tables of the backup, each unambiguously."""

from __future__ import annotations

from taskagent_backup.errors import UsageError
from taskagent_backup.i18n import _
from taskagent_backup.restore.model import RestoreOptions
from taskagent_backup.snapshot.catalog import is_selected

GLOB_CHARACTERS = frozenset("*?[")


def check_selection(options: RestoreOptions, backup_tables: list[str]) -> None:
    """Raise ``UsageError`` listing every table argument that is unknown or ambiguous.

    ``backup_tables`` contains the backup's tables as ``schema.name``.  A bare
    name without glob characters that matches tables in several schemas is
    ambiguous, because in ``replace`` mode it would empty all of them, e.g.
    both ``auth.users`` and ``public.users``.
    """
    arguments = [("--tables", pattern) for pattern in options.tables]
    arguments += [("--where", pattern) for pattern in options.where]
    problems = [
        problem
        for option, pattern in arguments
        if (problem := _pattern_problem(option, pattern, backup_tables))
    ]
    if not problems:
        return
    listed = ", ".join(sorted(backup_tables)) or _("(none)")
    raise UsageError(
        "\n".join(problems)
        + "\n"
        + _("the backup contains these tables: {tables}").format(tables=listed)
    )


def _pattern_problem(option: str, pattern: str, backup_tables: list[str]) -> str | None:
    matches = [name for name in backup_tables if _matches(name, pattern)]
    if not matches:
        return _("{option} {pattern}: no table of this name is in the backup").format(
            option=option, pattern=pattern
        )
    is_bare_name = "." not in pattern and not GLOB_CHARACTERS & set(pattern)
    if is_bare_name and len(matches) > 1:
        return _(
            "{option} {pattern}: this name matches tables in several schemas ({tables}); "
            "name one as schema.name"
        ).format(option=option, pattern=pattern, tables=", ".join(sorted(matches)))
    return None


def _matches(qualified_name: str, pattern: str) -> bool:
    schema, _dot, name = qualified_name.partition(".")
    return is_selected(schema, name, [pattern], [])
