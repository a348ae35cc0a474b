"""sd_notify(3) messages to the service manager over ``NOTIFY_SOCKET``.

This replaces the ``sdnotify`` package (0.3.2), which encodes messages as
Latin-1.  There, "für" arrives as invalid UTF-8 and "次回" raises inside the
package, which then drops the message silently, because a bare ``except``
swallows every error.  It also cannot tell "not under systemd" from
"sending failed".

The protocol is small: one UTF-8 datagram per message, with newline-separated
``KEY=value`` assignments, sent to an ``AF_UNIX`` datagram socket.  A socket
name starting with ``@`` is in the Linux abstract namespace (a leading NUL byte).
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger(__name__)

MAX_STATUS_CHARACTERS = 1000


def monotonic_usec() -> int:
    """Return ``CLOCK_MONOTONIC`` in microseconds, as ``MONOTONIC_USEC=`` expects."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def socket_address(name: str) -> str | bytes:
    """Return the ``connect`` address for a ``NOTIFY_SOCKET`` value.

    ``@name`` is an abstract socket, addressed with a leading NUL byte.
    Raises ``ValueError`` for a value that is neither absolute nor abstract.
    """
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    if name.startswith("/"):
        return name
    raise ValueError(f"NOTIFY_SOCKET={name!r} is neither an absolute path nor @abstract")


class Notifier:
    """A sender of sd_notify messages; does nothing when ``NOTIFY_SOCKET`` is unset or invalid.

    Sending never raises: a failure is logged as a warning (once per kind
    of error, so a vanished socket does not flood the log) because losing a
    notification must not stop a backup.
    """

    def __init__(self, socket_name: str | None = None) -> None:
        name = socket_name if socket_name is not None else os.environ.get("NOTIFY_SOCKET")
        self._address: str | bytes | None = None
        self._reported_errors: set[str] = set()
        if name:
            try:
                self._address = socket_address(name)
            except ValueError as error:
                log.warning("notify_socket_invalid", error=str(error))

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens for notifications."""
        return self._address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one datagram with ``KEY=value`` lines; return whether it was sent.

        Keyword names are the sd_notify variables, e.g.
        ``send(RELOADING=1, MONOTONIC_USEC=monotonic_usec())``.
        """
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            # "replace" keeps a lone surrogate from an undecodable file name from raising.
            self._send_datagram(message.encode("utf-8", errors="replace"))
        except OSError as error:
            self._report(error, fields)
            return False
        return True

    def status(self, text: str) -> bool:
        """Send ``STATUS=text`` on one line, shortened to a readable length."""
        line = " ".join(text.split())[:MAX_STATUS_CHARACTERS]
        return self.send(STATUS=line)

    def _send_datagram(self, data: bytes) -> None:
        assert self._address is not None
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sender:
            sender.connect(self._address)
            sender.sendall(data)

    def _report(self, error: OSError, fields: dict[str, str | int]) -> None:
        kind = type(error).__name__
        if kind in self._reported_errors:
            return
        self._reported_errors.add(kind)
        log.warning("notify_failed", variables=sorted(fields), error=str(error))
