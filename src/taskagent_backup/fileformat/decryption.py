"""Reading age-encrypted backups with the operator's identity files.

pyrage's ``decrypt_io(reader, writer, identities)`` pushes plaintext into a
writer.  ``open_decrypted`` turns that into a readable stream: a helper
thread runs ``decrypt_io`` and feeds a bounded queue, so memory stays flat
for backups of any size.  Identity files are those of the ``age`` tool: lines
``AGE-SECRET-KEY-1...`` with ``#`` comments (``age-keygen`` output), or an
unencrypted OpenSSH private key.
"""

from __future__ import annotations

import io
import queue
import threading
from pathlib import Path
from typing import IO, Any

import pyrage

from taskagent_backup.errors import AgeIdentityError, BackupFileError, BackupToolError
from taskagent_backup.i18n import _

MAX_QUEUED_CHUNKS = 8
AGE_SECRET_KEY_PREFIX = "AGE-SECRET-KEY-"
_END = object()


def load_identities(identity_paths: list[Path]) -> list[Any]:
    """Read every identity from ``identity_paths``.

    Raises ``AgeIdentityError`` naming the file when one cannot be read or
    contains no usable identity.
    """
    identities: list[Any] = []
    for path in identity_paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AgeIdentityError(
                _("identity file {path}: cannot read: {error}").format(path=path, error=error)
            ) from error
        identities += _parse_identity_file(path, text)
    return identities


def _parse_identity_file(path: Path, text: str) -> list[Any]:
    try:
        if AGE_SECRET_KEY_PREFIX in text:
            return [
                pyrage.x25519.Identity.from_str(line.strip())
                for line in text.splitlines()
                if line.strip().startswith(AGE_SECRET_KEY_PREFIX)
            ]
        return [pyrage.ssh.Identity.from_buffer(text.encode())]
    except pyrage.IdentityError as error:
        raise AgeIdentityError(
            _("identity file {path}: not a valid age or unencrypted SSH identity: {error}").format(
                path=path, error=error
            )
        ) from error


class _QueueWriter:
    """The plaintext side of ``decrypt_io``: hands chunks to the reading thread."""

    def __init__(self, chunks: queue.Queue[Any], closed: threading.Event) -> None:
        self._chunks = chunks
        self._closed = closed

    def write(self, data: bytes) -> int:
        while not self._closed.is_set():
            try:
                self._chunks.put(bytes(data), timeout=0.5)
                return len(data)
            except queue.Full:
                continue
        raise BrokenPipeError("the reader of the decrypted backup was closed")

    def flush(self) -> None:
        """Nothing is buffered here."""


class _DecryptedStream(io.RawIOBase):
    """The plaintext of an age file, decrypted on a helper thread while read."""

    def __init__(self, raw: IO[bytes], path: Path, identities: list[Any]) -> None:
        self._raw = raw
        self._path = path
        self._chunks: queue.Queue[Any] = queue.Queue(MAX_QUEUED_CHUNKS)
        self._closed_event = threading.Event()
        self._current = memoryview(b"")
        self._ended = False
        self._thread = threading.Thread(
            target=self._decrypt, args=(identities,), name="backup-decryption", daemon=True
        )
        self._thread.start()

    def _decrypt(self, identities: list[Any]) -> None:
        writer = _QueueWriter(self._chunks, self._closed_event)
        outcome: Any = _END
        try:
            pyrage.decrypt_io(self._raw, writer, identities)
        except BaseException as error:
            outcome = error
        while not self._closed_event.is_set():
            try:
                self._chunks.put(outcome, timeout=0.5)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current and not self._ended:
            item = self._chunks.get()
            if item is _END:
                self._ended = True
            elif isinstance(item, BaseException):
                self._ended = True
                raise self._describe(item)
            else:
                self._current = memoryview(item)
        size = min(len(buffer), len(self._current))
        buffer[:size] = self._current[:size]
        self._current = self._current[size:]
        return size

    def _describe(self, error: BaseException) -> BackupToolError:
        reason = str(error)
        if "No matching keys" in reason:
            return AgeIdentityError(
                _(
                    "{path}: none of the given identities can decrypt this backup; "
                    "pass the identity file whose public key was in backup.encrypt_to"
                ).format(path=self._path)
            )
        return BackupFileError(
            _(
                "{path}: age decryption failed ({reason}): the file is truncated, "
                "damaged or was changed after it was written"
            ).format(path=self._path, reason=reason)
        )

    def close(self) -> None:
        self._closed_event.set()
        self._raw.close()
        super().close()


def open_decrypted(raw: IO[bytes], path: Path, identity_paths: list[Path]) -> IO[bytes]:
    """Return a buffered readable stream of the plaintext of the age file ``raw``.

    Reading raises ``AgeIdentityError`` when no identity matches and
    ``BackupFileError`` when the file is damaged.  age authenticates every
    64 KiB chunk and marks the last one, so a changed chunk or a missing
    end raises before the stream ends.
    Raises ``AgeIdentityError`` at once when ``identity_paths`` is empty.
    """
    if not identity_paths:
        raw.close()
        raise AgeIdentityError(
            _("{path} is encrypted with age; pass the private key with --identity FILE").format(
                path=path
            )
        )
    try:
        identities = load_identities(identity_paths)
    except AgeIdentityError:
        raw.close()
        raise
    if not identities:
        raw.close()
        raise AgeIdentityError(
            _("no identity found in {paths}").format(paths=", ".join(map(str, identity_paths)))
        )
    return io.BufferedReader(_DecryptedStream(raw, path, identities), 1 << 20)
