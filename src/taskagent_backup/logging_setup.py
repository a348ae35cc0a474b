"""structlog configuration: JSON lines for journald, readable lines on a terminal.

Every event becomes one line on stdout.  Under systemd, when stdout is the
journal stream named by ``JOURNAL_STREAM``, each JSON line starts with its
syslog priority in ``sd-daemon(3)`` form (``<3>`` error, ``<4>`` warning,
``<6>`` info, ``<7>`` debug).  journald strips the prefix and stores the
priority, so ``journalctl -p err`` shows exactly the errors and ``-o cat``
prints pure JSON.  Messages of the standard ``logging`` module (APScheduler,
asyncio) go through the same renderer, so no line is plain text.  Passwords
are masked in every event, including inside DSNs embedded in error text.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
SYSLOG_PRIORITIES = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "info": 6,
                     "debug": 7}
SECRET_KEY_PATTERN = re.compile(r"password|passwd|secret|token|dsn", re.IGNORECASE)
# user:password@ in a URL, and password=... in a libpq keyword string.
URL_PASSWORD_PATTERN = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?=@)",
                                  re.IGNORECASE)
KEYWORD_PASSWORD_PATTERN = re.compile(r"(?P<head>password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
MASK = "***"
# Third-party loggers whose lower-level lines repeat our own events, mapped
# to the lowest level that is still logged.
QUIET_LOGGERS = {"apscheduler": logging.ERROR, "asyncio": logging.WARNING}

EventDict = MutableMapping[str, Any]


def mask_secrets(text: str) -> str:
    """Return ``text`` with passwords in URLs and ``password=`` keywords masked."""
    text = URL_PASSWORD_PATTERN.sub(lambda match: match["head"] + MASK, text)
    return KEYWORD_PASSWORD_PATTERN.sub(lambda match: match["head"] + MASK, text)


def redact_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Mask secret-named fields and passwords inside string values (a processor)."""
    for key, value in event_dict.items():
        if SECRET_KEY_PATTERN.search(key) and value is not None:
            event_dict[key] = MASK
        elif isinstance(value, str):
            event_dict[key] = mask_secrets(value)
    return event_dict


def is_journal_stream(stream: TextIO) -> bool:
    """Tell whether ``stream`` is the journal connection named by ``JOURNAL_STREAM``.

    systemd sets ``JOURNAL_STREAM=<device>:<inode>`` of the stdout/stderr
    socket.  A child whose stdout was redirected inherits the variable, so
    the device and inode are compared, not just the variable's presence.
    """
    expected = os.environ.get("JOURNAL_STREAM", "")
    device, _separator, inode = expected.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class PriorityPrefixRenderer:
    """Render an event as JSON prefixed with its syslog priority, e.g. ``<4>{...}``."""

    def __init__(self) -> None:
        self._json = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> str:
        level = str(event_dict.get("level", method)).lower()
        priority = SYSLOG_PRIORITIES.get(level, 6)
        rendered = self._json(logger, method, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else rendered
        return f"<{priority}>{text}"


def _renderer(output: TextIO) -> Any:
    if is_journal_stream(output):
        return PriorityPrefixRenderer()
    if output.isatty():
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer()


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send structlog and standard-library log events to ``stream`` (stdout by default).

    A terminal gets coloured console lines, the journal gets JSON with a
    priority prefix, anything else plain JSON lines.  Events below ``level``
    are dropped.  Safe to call again, e.g. after a reload changed the level.
    """
    output = stream or sys.stdout
    renderer = _renderer(output)
    final = [] if isinstance(renderer, structlog.dev.ConsoleRenderer) else [
        structlog.processors.format_exc_info
    ]
    structlog.configure(
        processors=[*_shared_processors(), *final, redact_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(output),
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(output, renderer, LEVELS[level])


def _route_standard_logging(output: TextIO, renderer: Any, level: int) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name, minimum in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, minimum))
    logging.captureWarnings(True)
