"""age encryption of backup files (recipients are public keys).

``EncryptingSink`` turns pyrage's pull-based ``encrypt_io(reader, writer,
recipients)`` into the push-based ``write(bytes)`` interface of the output
chain: a helper thread runs ``encrypt_io`` and pulls the plaintext from a
bounded queue, so at most ``MAX_QUEUED_CHUNKS`` chunks wait in memory
whatever the size of the backup.  The output is the standard age format
(age-encryption.org/v1), which the ``age`` command-line tool decrypts.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from typing import Any

import pyrage

from taskagent_backup.fileformat.streams import ByteSink
from taskagent_backup.i18n import _

MAX_QUEUED_CHUNKS = 8
PUT_POLL_SECONDS = 0.5


def parse_recipient(text: str) -> Any:
    """Parse an age X25519 recipient (``age1...``) or an SSH public key.

    Raises ``ValueError`` naming the value when it is not a valid recipient.
    """
    try:
        if text.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(text)
        if text.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(text)
    except pyrage.RecipientError as error:
        raise ValueError(
            _("invalid age recipient {recipient!r}: {error}").format(recipient=text, error=error)
        ) from error
    raise ValueError(
        _(
            "invalid age recipient {recipient!r}: expected an age public key (age1...) "
            "or an ssh-ed25519 / ssh-rsa public key"
        ).format(recipient=text)
    )


class EncryptionAborted(Exception):
    """Raised inside the encryption thread to stop ``encrypt_io`` early."""


class _QueueReader(io.RawIOBase):
    """The plaintext side of the sink: ``encrypt_io`` reads from the queue here."""

    def __init__(self, chunks: queue.Queue[bytes | None], aborted: threading.Event) -> None:
        self._chunks = chunks
        self._aborted = aborted
        self._current = memoryview(b"")
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current and not self._finished:
            chunk = self._chunks.get()
            if self._aborted.is_set():
                raise EncryptionAborted("the backup was aborted")
            if chunk is None:
                self._finished = True
            else:
                self._current = memoryview(chunk)
        size = min(len(buffer), len(self._current))
        buffer[:size] = self._current[:size]
        self._current = self._current[size:]
        return size


class _TargetWriter:
    """The ciphertext side: keeps the first error of ``target`` (e.g. ENOSPC)."""

    def __init__(self, target: ByteSink) -> None:
        self._target = target
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            self._target.write(data)
        except BaseException as error:
            self.error = self.error or error
            raise
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: ``target`` is synced when the file is committed."""


class EncryptingSink:
    """Encrypt everything written to age ``recipients`` and pass it on to ``target``.

    ``write`` raises the target's own error (e.g. ``OSError`` ENOSPC) once
    the encryption thread has failed.  ``close`` writes the final age chunk
    and waits for the thread; it does not close ``target``.  ``abort``
    stops the thread without finishing the stream and never raises.
    Raises ``ValueError`` at construction for an invalid recipient.
    """

    def __init__(self, target: ByteSink, recipients: list[str]) -> None:
        parsed = [parse_recipient(recipient) for recipient in recipients]
        if not parsed:
            raise ValueError("encryption needs at least one age recipient")
        self._chunks: queue.Queue[bytes | None] = queue.Queue(MAX_QUEUED_CHUNKS)
        self._aborted = threading.Event()
        self._writer = _TargetWriter(target)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._encrypt, args=(parsed,), name="backup-encryption", daemon=True
        )
        self._thread.start()

    def _encrypt(self, recipients: list[Any]) -> None:
        reader = io.BufferedReader(_QueueReader(self._chunks, self._aborted), 1 << 16)
        try:
            pyrage.encrypt_io(reader, self._writer, recipients)
        except BaseException as error:
            self._error = self._writer.error or error

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` for encryption; waits while the queue is full."""
        if data:
            self._put(bytes(data))

    def _put(self, item: bytes | None) -> None:
        # Poll so that a failed encryption thread, which no longer takes
        # chunks, turns into an error here instead of a writer blocked forever.
        while True:
            self._raise_failure()
            try:
                self._chunks.put(item, timeout=PUT_POLL_SECONDS)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._raise_failure()
                    raise RuntimeError("the age encryption thread stopped unexpectedly") from None

    def _raise_failure(self) -> None:
        if self._error is None:
            return
        if isinstance(self._error, OSError):
            raise self._error
        raise OSError(f"age encryption failed: {self._error}") from self._error

    def close(self) -> None:
        """Finish the age stream (the final chunk) and wait for the thread."""
        self._put(None)
        self._thread.join()
        self._raise_failure()

    def abort(self) -> None:
        """Stop encrypting without finishing the stream; never raises."""
        self._aborted.set()
        # A full queue is fine because the thread checks the abort flag at its next read.
        with contextlib.suppress(queue.Full):
            self._chunks.put_nowait(None)
        self._thread.join(timeout=5)
