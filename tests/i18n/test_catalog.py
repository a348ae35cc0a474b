"""The Japanese catalog translates every extracted message with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from taskagent_backup.i18n import LOCALE_DIRECTORY

TEMPLATE = LOCALE_DIRECTORY / "taskagent_backup.pot"
JAPANESE = LOCALE_DIRECTORY / "ja" / "LC_MESSAGES" / "taskagent_backup.po"

# str.format fields ({name}, {name!r}, {count:>7}) and printf fields (%(name)s, %s, %r).
PLACEHOLDER = re.compile(r"\{[A-Za-z_][^{}]*\}|%\([A-Za-z_]+\)[sdr]|%[sdr]")


def _read(path: Path) -> list[Message]:
    with path.open("rb") as stream:
        return [message for message in read_po(stream) if message.id]


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _texts(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


JAPANESE_MESSAGES = {_key(message): message for message in _read(JAPANESE)}
TEMPLATE_IDS = [_key(message) for message in _read(TEMPLATE)]


def test_template_lists_messages() -> None:
    assert len(TEMPLATE_IDS) > 100


@pytest.mark.parametrize("message_id", TEMPLATE_IDS)
def test_catalog_message_translated(message_id: str) -> None:
    message = JAPANESE_MESSAGES.get(message_id)

    assert message is not None, "missing from the ja catalog; run ./dev i18n"
    assert not message.fuzzy
    for translation in _texts(message.string):
        assert translation.strip()


@pytest.mark.parametrize("message_id", TEMPLATE_IDS)
def test_catalog_placeholders_match_english(message_id: str) -> None:
    message = JAPANESE_MESSAGES[message_id]
    english = _placeholders(_texts(message.id)[0])

    for translation in _texts(message.string):
        assert _placeholders(translation) == english


def test_catalog_has_no_stale_entries() -> None:
    stale = sorted(set(JAPANESE_MESSAGES) - set(TEMPLATE_IDS))

    assert stale == []
