"""Fixtures for the daemon tests: a private sd_notify socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

NOTIFY_TIMEOUT_SECONDS = 20.0


class NotifySocket:
    """A datagram socket standing in for systemd's ``NOTIFY_SOCKET``."""

    def __init__(self, name: str, address: str | bytes) -> None:
        self.name = name
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(address)
        self._socket.settimeout(NOTIFY_TIMEOUT_SECONDS)

    def receive(self) -> str:
        """Return the next datagram as text; raise ``TimeoutError`` when none arrives."""
        return self._socket.recv(65536).decode("utf-8")

    def receive_until(self, prefix: str) -> list[str]:
        """Return every datagram up to and including the first starting with ``prefix``."""
        messages = []
        while True:
            message = self.receive()
            messages.append(message)
            if message.startswith(prefix):
                return messages

    def drain(self) -> list[str]:
        """Return the datagrams already queued, without waiting."""
        messages = []
        self._socket.setblocking(False)
        try:
            while True:
                messages.append(self._socket.recv(65536).decode("utf-8"))
        except BlockingIOError:
            return messages
        finally:
            self._socket.settimeout(NOTIFY_TIMEOUT_SECONDS)

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def path_notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A notify socket bound to a file path."""
    path = tmp_path / "notify.sock"
    notify = NotifySocket(str(path), str(path))
    yield notify
    notify.close()


@pytest.fixture
def abstract_notify_socket() -> Iterator[NotifySocket]:
    """A notify socket in the Linux abstract namespace (``@name``)."""
    name = f"taskagent-test-notify-{os.getpid()}-{id(object())}"
    notify = NotifySocket(f"@{name}", b"\0" + name.encode())
    yield notify
    notify.close()
