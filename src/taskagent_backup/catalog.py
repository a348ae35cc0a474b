"""The catalog: which backups a directory contains and which of them are good.

Every entry comes from the files themselves.  Kind, label and start time
come from the file name, whose stamp is the backup's recorded UTC start
(never the mtime, which copying or restoring files changes).  Tables, rows
and completeness come from reading the whole file, which also checks each
table's row count and SHA-256.  Because that read is slow for large
compressed files, results are cached in ``<directory>/.taskagent-backup/index.json``
keyed by name, size and mtime_ns; a missing, damaged or stale index is
rebuilt from the files, so deleting it loses nothing.

States of an entry:

* ``good``: our header, every table checked, trailer says ``complete``.
* ``encrypted``: an age file read without an identity.  The daemon holds
  only public keys, so it cannot check the content; it relies on the
  writer, which publishes a file under its backup name only after the
  whole stream is written and synced.  The entry counts as good unless its
  latest verify record failed or its age structure is implausible.  A
  passed verify record (made with the key) replaces the entry's detail.
* ``damaged``: our header but truncated, edited or failing a checksum.
* ``foreign``: a backup-like name without our header (for example a file
  of the old TaskAgent script); never counted and never deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import structlog

from taskagent_backup.checks import STATE_DIRECTORY_NAME, CheckRecord, latest_checks
from taskagent_backup.errors import AgeIdentityError, BackupFileError, BackupNotFoundError
from taskagent_backup.fileformat.reader import AGE_MAGIC, foreign_file_marker, read_backup
from taskagent_backup.i18n import _
from taskagent_backup.naming import parse_backup_file_name

log = structlog.get_logger(__name__)

INDEX_FILE_NAME = "index.json"
INDEX_VERSION = 1
HASH_BLOCK_BYTES = 1 << 20
# age (age-encryption.org/v1) payload: a 16-byte nonce, then chunks of
# 64 KiB plaintext, each followed by a 16-byte Poly1305 tag.
AGE_NONCE_BYTES = 16
AGE_TAG_BYTES = 16
AGE_CHUNK_BYTES = 64 * 1024 + AGE_TAG_BYTES

State = Literal["good", "encrypted", "damaged", "foreign"]
COUNTED_STATES = ("good", "encrypted")


@dataclass(frozen=True)
class BackupEntry:
    """One backup file as read by the catalog.

    ``started_at`` is the UTC start recorded in the name.  ``tables`` and
    ``rows`` are ``None`` when the content could not be read.  ``sha256``
    is the digest of the file's bytes as stored (``sha256sum`` prints the
    same).  ``verified`` and ``drilled`` are ``True`` or ``False`` for the
    latest check record of this file and size, or ``None`` when it was
    never checked.
    """

    name: str
    path: Path
    kind: str
    label: str | None
    started_at: datetime
    size: int
    mtime_ns: int
    encrypted: bool
    state: State
    detail: str = ""
    created_at: str | None = None
    tables: int | None = None
    rows: int | None = None
    sha256: str = ""
    verified: bool | None = None
    drilled: bool | None = None

    @property
    def counts(self) -> bool:
        """Whether the entry counts as a good backup for retention and status."""
        return self.state in COUNTED_STATES and self.verified is not False

    def to_json(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values (times in ISO 8601 UTC)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["started_at"] = self.started_at.isoformat().replace("+00:00", "Z")
        data["good"] = self.counts
        return data


def scan_directory(
    directory: Path, identity_paths: list[Path] | None = None, use_index: bool = True
) -> list[BackupEntry]:
    """Read every file in ``directory`` whose name is a backup name into an entry.

    Returns the entries sorted by ``started_at``, oldest first, and, with
    ``use_index``, rewrites the index.  Files with other names are ignored.
    With ``identity_paths``, encrypted files are decrypted and checked like
    the others.  A bad backup file becomes a damaged or foreign entry
    instead of an error, and a missing directory gives an empty list.
    """
    index = _load_index(directory) if use_index else {}
    checks = latest_checks(directory)
    entries = []
    for path in _backup_paths(directory):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        key = _index_key(path.name, stat.st_size, stat.st_mtime_ns)
        cached = index.get(key)
        if cached is None or (identity_paths and cached.state == "encrypted"):
            cached = _read_entry(path, stat.st_size, stat.st_mtime_ns, identity_paths or [])
        index[key] = cached
        entries.append(_with_checks(cached, checks))
    if use_index:
        _save_index(directory, entries, index)

    return sorted(entries, key=lambda entry: (entry.started_at, entry.name))


def remember_backup(
    path: Path, created_at: datetime, tables: int, rows: int, sha256: str
) -> None:
    """Add a backup this process just wrote to the index as good.

    The writer computed every table's checksum and the file's SHA-256 as
    it wrote them, so reading the file back to catalog it would only
    repeat that work; ``verify`` re-reads a file from disk when asked.
    """
    name = parse_backup_file_name(path.name)
    if name is None:
        return
    stat = path.stat()
    entry = BackupEntry(
        name=path.name, path=path, kind=name.kind, label=name.label,
        started_at=name.started_at, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
        encrypted=name.encrypted, state="good",
        created_at=created_at.isoformat().replace("+00:00", "Z"),
        tables=tables, rows=rows, sha256=sha256,
    )
    index = _load_index(path.parent)
    index[_index_key(entry.name, entry.size, entry.mtime_ns)] = entry
    current = [cached for cached in index.values() if cached.path.exists()]
    _save_index(path.parent, current, index)


def newest_good(entries: Iterable[BackupEntry], kind: str) -> BackupEntry | None:
    """Return the newest entry of ``kind`` that counts as good, or ``None``."""
    good = [entry for entry in entries if entry.kind == kind and entry.counts]
    return max(good, key=lambda entry: entry.started_at, default=None)


def _backup_paths(directory: Path) -> list[Path]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [
        directory / name for name in names
        if parse_backup_file_name(name) is not None and (directory / name).is_file()
    ]


def _with_checks(
    entry: BackupEntry, checks: dict[tuple[str, Any], CheckRecord]
) -> BackupEntry:
    def latest(check: str) -> CheckRecord | None:
        record = checks.get((entry.name, check))
        return record if record is not None and record.size == entry.size else None

    verify, drill = latest("verify"), latest("drill")
    checked = replace(
        entry,
        verified=None if verify is None else verify.ok,
        drilled=None if drill is None else drill.ok,
    )
    if checked.state == "encrypted" and verify is not None and verify.ok:
        # The catalog itself read the file without a key, but verify
        # decrypted and checked all of it.
        detail = _("encrypted: content checked by verify at {time}").format(
            time=verify.checked_at
        )
        checked = replace(checked, detail=detail)

    return checked


# ---- reading one file ---------------------------------------------------------


def _read_entry(path: Path, size: int, mtime_ns: int, identity_paths: list[Path]) -> BackupEntry:
    name = parse_backup_file_name(path.name)
    assert name is not None, "only called for backup names"
    entry = BackupEntry(
        name=path.name, path=path, kind=name.kind, label=name.label,
        started_at=name.started_at, size=size, mtime_ns=mtime_ns,
        encrypted=name.encrypted, state="damaged",
    )
    try:
        entry = replace(entry, sha256=_file_sha256(path))
    except OSError as error:
        return replace(entry, detail=_("cannot read: {reason}").format(reason=error.strerror))
    if name.encrypted and not identity_paths:
        return _inspect_encrypted(entry)

    return _read_content(entry, identity_paths)


def _read_content(entry: BackupEntry, identity_paths: list[Path]) -> BackupEntry:
    try:
        reader = read_backup(entry.path, identity_paths)
    except AgeIdentityError as error:
        # A wrong key is no evidence about the file, so judge it as if no key was given.
        inspected = _inspect_encrypted(entry)
        return replace(inspected, detail=f"{inspected.detail} ({error})")
    except BackupNotFoundError as error:
        return replace(entry, detail=str(error))
    except BackupFileError as error:
        state: State = "foreign" if _is_foreign(str(error)) else "damaged"
        return replace(entry, state=state, detail=str(error))
    try:
        for section in reader.tables():
            for _row in reader.rows(section):
                pass
    except BackupFileError as error:
        return replace(entry, created_at=reader.header.get("created_at"), detail=str(error))
    finally:
        reader.stream.close()

    trailer = reader.trailer
    complete = trailer.get("complete") is True
    return replace(
        entry,
        state="good" if complete else "damaged",
        detail="" if complete else _("the trailer does not mark the backup complete"),
        created_at=reader.header.get("created_at"),
        tables=trailer.get("tables"),
        rows=trailer.get("rows"),
    )


def _is_foreign(message: str) -> bool:
    # Only a readable first line without our prefix proves a foreign file; an
    # unreadable start (a truncated zstd frame, say) may be ours, so damaged.
    return foreign_file_marker() in message


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _inspect_encrypted(entry: BackupEntry) -> BackupEntry:
    """Check what can be checked without the private key: the age structure."""
    try:
        with entry.path.open("rb") as stream:
            head = stream.read(64 * 1024)
    except OSError as error:
        return replace(entry, detail=_("cannot read: {reason}").format(reason=error.strerror))
    if not head.startswith(AGE_MAGIC):
        detail = _("the name ends in .age but the file is not in the age format")
        return replace(entry, state="foreign", detail=detail)
    end_of_header = head.find(b"\n--- ")
    line_end = head.find(b"\n", end_of_header + 1) if end_of_header >= 0 else -1
    if line_end < 0:
        return replace(entry, detail=_("the age header is incomplete: the file is truncated"))
    payload = entry.size - (line_end + 1)
    if not age_payload_plausible(payload):
        return replace(
            entry,
            detail=_("an age payload of {size} bytes is not possible").format(size=payload),
        )
    return replace(entry, state="encrypted", detail=_("encrypted: content not checked"))


def age_payload_plausible(payload_bytes: int) -> bool:
    """Return whether an age payload of this size can be a complete stream.

    A complete payload is the nonce plus at least one chunk, and the last
    chunk carries 1 to 65536 bytes plus its tag (an empty plaintext, which a
    backup never is, is rejected too).  Only some truncations show in the
    size; authenticating the chunks needs the private key.
    """
    chunks = payload_bytes - AGE_NONCE_BYTES
    if chunks < AGE_TAG_BYTES:
        return False
    last_chunk = chunks % AGE_CHUNK_BYTES
    return last_chunk == 0 or last_chunk > AGE_TAG_BYTES


# ---- the index ----------------------------------------------------------------


def index_path(directory: Path) -> Path:
    """Return the path of the catalog index of a backup directory."""
    return directory / STATE_DIRECTORY_NAME / INDEX_FILE_NAME


def _index_key(name: str, size: int, mtime_ns: int) -> str:
    return f"{name}\0{size}\0{mtime_ns}"


def _load_index(directory: Path) -> dict[str, BackupEntry]:
    try:
        data = orjson.loads(index_path(directory).read_bytes())
        if data.get("version") != INDEX_VERSION:
            return {}
        entries = [_entry_from_json(directory, item) for item in data["entries"]]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return {}
    return {_index_key(entry.name, entry.size, entry.mtime_ns): entry for entry in entries}


def _entry_from_json(directory: Path, item: dict[str, Any]) -> BackupEntry:
    name = parse_backup_file_name(item["name"])
    if name is None or item["state"] not in ("good", "encrypted", "damaged", "foreign"):
        raise ValueError("not an index entry")
    fields = {key: item[key] for key in (
        "state", "detail", "created_at", "tables", "rows", "sha256", "size", "mtime_ns")}
    return BackupEntry(
        name=item["name"], path=directory / item["name"], kind=name.kind, label=name.label,
        started_at=name.started_at, encrypted=name.encrypted, **fields,
    )


def _save_index(directory: Path, entries: list[BackupEntry], index: dict[str, BackupEntry]) -> None:
    """Write the index of the current files; a failure only costs a re-read later."""
    # NOTE: details are stored translated, so list shows them in the language
    # of the process that first read the file (often the daemon's).
    current = {_index_key(entry.name, entry.size, entry.mtime_ns) for entry in entries}
    items = [
        {key: value for key, value in entry.to_json().items()
         if key not in ("path", "started_at", "good", "verified", "drilled")}
        for key, entry in index.items() if key in current
    ]
    path = index_path(directory)
    temporary = path.with_name(f".{INDEX_FILE_NAME}.{os.getpid()}.tmp")
    try:
        if not path.parent.exists() and directory.stat().st_uid != os.geteuid():
            # A state directory created by root's "list" would lock the
            # daemon's user out of its own check records.
            return
        path.parent.mkdir(mode=0o700, exist_ok=True)
        temporary.write_bytes(orjson.dumps({"version": INDEX_VERSION, "entries": items}))
        os.replace(temporary, path)
    except OSError as error:
        log.debug("catalog_index_not_written", file=str(path), error=str(error))
        with contextlib.suppress(OSError):
            temporary.unlink()
