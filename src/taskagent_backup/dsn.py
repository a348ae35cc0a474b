"""Parse libpq-style connection URLs into asyncpg connection arguments.

Operators paste DSNs from Supabase, Heroku and psql: ``postgres://`` or
``postgresql://``, IPv6 hosts in brackets, percent-encoded passwords and
``sslmode`` from libpq.  asyncpg accepts a DSN itself, but SQLAlchemy passes
query parameters through as keyword arguments, so the URL is parsed once
here and turned into explicit ``asyncpg.connect`` arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from taskagent_backup.i18n import _

SCHEMES = ("postgres", "postgresql")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SUPPORTED_PARAMETERS = (
    "sslmode",
    "host",
    "port",
    "user",
    "dbname",
    "application_name",
    "connect_timeout",
)
DEFAULT_PORT = 5432


@dataclass(frozen=True)
class ConnectionTarget:
    """The server, database and role to connect to; the password is kept out of ``repr``."""

    host: str
    port: int
    user: str | None
    database: str | None
    ssl_mode: str = "prefer"
    application_name: str = "taskagent-backup"
    connect_timeout_seconds: float = 10.0
    password: str | None = field(default=None, repr=False)

    def display(self) -> str:
        """Return a URL for logs and messages, without the password."""
        user = f"{self.user}@" if self.user else ""
        database = self.database or ""
        if self.host.startswith("/"):
            return f"postgresql://{user}/{database}?host={self.host}&port={self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{user}{host}:{self.port}/{database}"

    def with_password(self, password: str | None) -> ConnectionTarget:
        """Return a copy whose password is ``password``."""
        return _replace(self, password=password)

    def with_database(self, database: str) -> ConnectionTarget:
        """Return a copy that connects to ``database``."""
        return _replace(self, database=database)

    def connect_kwargs(self) -> dict[str, Any]:
        """Return keyword arguments for ``asyncpg.connect``."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "database": self.database,
            "password": self.password,
            "timeout": self.connect_timeout_seconds,
            "server_settings": {"application_name": self.application_name},
        }
        if not self.host.startswith("/"):
            kwargs["ssl"] = self.ssl_mode
        return kwargs

    def libpq_environment(self) -> dict[str, str]:
        """Return ``PG*`` environment variables for libpq tools such as pg_dump."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGSSLMODE": self.ssl_mode,
            "PGAPPNAME": self.application_name,
            "PGCONNECT_TIMEOUT": str(max(1, int(self.connect_timeout_seconds))),
        }
        if self.user:
            env["PGUSER"] = self.user
        if self.database:
            env["PGDATABASE"] = self.database
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def _replace(target: ConnectionTarget, **changes: Any) -> ConnectionTarget:
    from dataclasses import replace

    return replace(target, **changes)


def _url_host(netloc: str) -> str | None:
    """Return the host of a URL's authority part, keeping its case.

    libpq reads a percent-encoded absolute path (``%2Frun%2Fpostgresql``) as
    a Unix socket directory; ``urlsplit().hostname`` would lowercase it.
    """
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0] or None
    host = unquote(hostport.partition(":")[0])
    if host.startswith("/"):
        return host
    return host.lower() or None


def parse_dsn(dsn: str) -> ConnectionTarget:
    """Parse ``dsn`` into a ``ConnectionTarget``.

    Raises ``ValueError`` with a message that never contains the password
    when the URL has an unknown scheme, a bad port, several hosts or an
    unsupported query parameter.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            _("scheme {scheme!r} is not supported; use postgresql://user@host:5432/dbname").format(
                scheme=parts.scheme or "(none)"
            )
        )
    if "," in parts.netloc.rpartition("@")[2]:
        raise ValueError(_("several hosts in one DSN are not supported; name one host"))

    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - set(SUPPORTED_PARAMETERS))
    if unknown:
        raise ValueError(
            _("unsupported DSN parameter(s) {unknown}; supported: {supported}").format(
                unknown=", ".join(unknown), supported=", ".join(SUPPORTED_PARAMETERS)
            )
        )
    ssl_mode = query.get("sslmode", "prefer")
    if ssl_mode not in SSL_MODES:
        raise ValueError(
            _("sslmode {mode!r} is invalid; allowed: {allowed}").format(
                mode=ssl_mode, allowed=", ".join(SSL_MODES)
            )
        )

    try:
        url_port = parts.port
    except ValueError as error:
        raise ValueError(_("the port in the DSN is not a number between 0 and 65535")) from error
    port_text = query.get("port") or (str(url_port) if url_port else str(DEFAULT_PORT))
    if not port_text.isdigit():
        raise ValueError(_("port {port!r} is not a number").format(port=port_text))

    host = query.get("host") or _url_host(parts.netloc) or "/var/run/postgresql"
    database = query.get("dbname") or unquote(parts.path.lstrip("/")) or None
    user = query.get("user") or (unquote(parts.username) if parts.username else None)
    password = unquote(parts.password) if parts.password is not None else None
    timeout = float(query.get("connect_timeout") or 10)

    return ConnectionTarget(
        host=host,
        port=int(port_text),
        user=user,
        database=database,
        ssl_mode=ssl_mode,
        application_name=query.get("application_name") or "taskagent-backup",
        connect_timeout_seconds=timeout,
        password=password,
    )
