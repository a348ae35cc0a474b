"""Fixtures of these tests: undo the logging set up by command-line handlers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """Restore structlog and root logging, which CLI handlers point at captured streams."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level
