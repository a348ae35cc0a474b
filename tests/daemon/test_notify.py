"""sd_notify messages over a private NOTIFY_SOCKET, path and abstract."""

from __future__ import annotations

import pytest

from taskagent_backup.daemon.notify import Notifier, monotonic_usec, socket_address
from tests.daemon.conftest import NotifySocket


def test_notifier_path_socket_ready_received(path_notify_socket: NotifySocket) -> None:
    notifier = Notifier(path_notify_socket.name)

    assert notifier.send(READY=1)
    assert path_notify_socket.receive() == "READY=1"


def test_notifier_abstract_socket_ready_received(abstract_notify_socket: NotifySocket) -> None:
    notifier = Notifier(abstract_notify_socket.name)

    assert notifier.send(READY=1)
    assert abstract_notify_socket.receive() == "READY=1"


def test_notifier_non_ascii_status_intact(abstract_notify_socket: NotifySocket) -> None:
    text = "letzte Sicherung OK (1,2 GB, Dauer 38 s); 次回 02:00 ✓"

    Notifier(abstract_notify_socket.name).status(text)

    assert abstract_notify_socket.receive() == f"STATUS={text}"


def test_notifier_status_newlines_joined(path_notify_socket: NotifySocket) -> None:
    Notifier(path_notify_socket.name).status("invalid configuration:\n  schedule.daily")

    assert path_notify_socket.receive() == "STATUS=invalid configuration: schedule.daily"


def test_notifier_reloading_one_datagram(path_notify_socket: NotifySocket) -> None:
    before = monotonic_usec()

    Notifier(path_notify_socket.name).send(RELOADING=1, MONOTONIC_USEC=monotonic_usec())
    lines = path_notify_socket.receive().split("\n")

    assert lines[0] == "RELOADING=1"
    assert lines[1].startswith("MONOTONIC_USEC=")
    assert int(lines[1].removeprefix("MONOTONIC_USEC=")) >= before


def test_notifier_unset_socket_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()

    assert not notifier.enabled
    assert notifier.send(READY=1) is False


def test_notifier_missing_socket_returns_false(tmp_path: object) -> None:
    notifier = Notifier("/nonexistent/notify.sock")

    assert notifier.enabled
    assert notifier.send(WATCHDOG=1) is False
    assert notifier.send(WATCHDOG=1) is False


def test_socket_address_forms() -> None:
    assert socket_address("@abc") == b"\0abc"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    with pytest.raises(ValueError, match="neither"):
        socket_address("relative.sock")


def test_notifier_relative_socket_disabled() -> None:
    notifier = Notifier("relative.sock")

    assert not notifier.enabled
    assert notifier.send(READY=1) is False
