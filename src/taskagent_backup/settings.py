"""Settings loaded from a TOML file with ``TASKAGENT_BACKUP_*`` overrides.

Environment variables win over the file; nested keys use a double
underscore, e.g. ``TASKAGENT_BACKUP_DATABASE__DSN`` or
``TASKAGENT_BACKUP_SCHEDULE__TIMEZONE``.  Every problem becomes one line of a
``ConfigError`` that names the key, the rejected value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from taskagent_backup.dsn import ConnectionTarget, parse_dsn
from taskagent_backup.errors import ConfigError
from taskagent_backup.i18n import _, ngettext

DEFAULT_CONFIG_PATH = Path("/etc/taskagent-backup/config.toml")
ENV_PREFIX = "TASKAGENT_BACKUP_"
SECRET_KEYS = ("password", "dsn")

Compression = Literal["zstd", "gzip", "none"]
DrillPolicy = Literal["off", "every", "newest-daily"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    """How to reach the database and which tables to back up."""

    dsn: SecretStr = SecretStr("postgresql://postgres@localhost:5432/postgres")
    password_file: Path | None = None
    password_credential: str | None = None
    schemas: list[str] = Field(default_factory=lambda: ["public"], min_length=1)
    include_tables: list[str] = Field(default_factory=lambda: ["*"])
    exclude_tables: list[str] = Field(default_factory=list)
    pgbouncer_transaction_mode: bool = False

    @field_validator("dsn")
    @classmethod
    def _dsn_parses(cls, value: SecretStr) -> SecretStr:
        parse_dsn(value.get_secret_value())
        return value

    def target(self) -> ConnectionTarget:
        """Return the connection target with the password resolved.

        The password comes, in this order, from the systemd credential
        ``password_credential``, from ``password_file``, or from the DSN.
        Raises ``ConfigError`` when a named source cannot be read.
        """
        target = parse_dsn(self.dsn.get_secret_value())
        password = self._read_password()
        return target.with_password(password) if password is not None else target

    def _read_password(self) -> str | None:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if self.password_credential and not directory and self.password_file:
            # Outside the service (an operator's command), the credential's
            # source file named by password_file is read instead.
            return _read_secret_file(self.password_file, "database.password_file")
        if self.password_credential:
            if not directory:
                raise ConfigError([
                    _(
                        "database.password_credential = {credential!r}: "
                        "CREDENTIALS_DIRECTORY is not set; start the service with "
                        "LoadCredential={credential}:/path/to/file"
                    ).format(credential=self.password_credential)
                ])
            return _read_secret_file(
                Path(directory) / self.password_credential, "database.password_credential"
            )
        if self.password_file:
            return _read_secret_file(self.password_file, "database.password_file")
        return None


def _read_secret_file(path: Path, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise ConfigError([
            _("{key}: cannot read {path}: {reason}").format(
                key=key, path=path, reason=error.strerror
            )
        ]) from error


class BackupSettings(_Section):
    """The backup directory and the file options: compression, encryption, space."""

    directory: Path = Path("/var/lib/taskagent-backup")
    compression: Compression = "zstd"
    compression_level: int = Field(default=3, ge=1, le=19)
    encrypt_to: list[str] = Field(default_factory=list)
    free_space_reserve_mb: int = Field(default=512, ge=0)
    embed_schema: bool = True
    parallel_connections: int = Field(default=2, ge=1, le=8)

    @field_validator("encrypt_to")
    @classmethod
    def _recipients_parse(cls, recipients: list[str]) -> list[str]:
        from taskagent_backup.fileformat.encryption import parse_recipient

        for recipient in recipients:
            parse_recipient(recipient)
        return recipients


class ScheduleSettings(_Section):
    """The daemon's schedules: cron expressions in ``timezone``, retries and drills."""

    timezone: str | None = None
    daily: str = "0 2 * * *"
    weekly: str = "0 1 * * mon"
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    # Seconds between attempts after a scheduled run failed (database down,
    # lock held); attempts stop once the kind's next regular run is due.
    retry_seconds: int = Field(default=600, ge=10)
    drill: DrillPolicy = "off"

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(
                    _("unknown time zone; use an IANA name such as Asia/Tokyo or UTC")
                ) from error
        return value

    @field_validator("daily", "weekly")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(
                _(
                    "invalid cron expression ({error}); use five fields: "
                    "minute hour day-of-month month day-of-week, e.g. '0 2 * * *'"
                ).format(error=error)
            ) from error
        return value

    def zone(self) -> zoneinfo.ZoneInfo:
        """Return the configured time zone, or the system's when unset."""
        from taskagent_backup.timezones import system_zone

        return zoneinfo.ZoneInfo(self.timezone) if self.timezone else system_zone()


class RetentionSettings(_Section):
    """How long each kind of backup is kept."""

    daily_days: int = Field(default=7, ge=1)
    weekly_days: int = Field(default=28, ge=1)
    monthly_keep: int = Field(default=0, ge=0)
    pre_migration_keep: int = Field(default=0, ge=0)


class LoggingSettings(_Section):
    """Log level of the daemon and the commands."""

    level: Literal["debug", "info", "warning", "error"] = "info"


class Settings(BaseSettings):
    """All settings of taskagent-backupd and taskagent-backup."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)


def load_settings(path: Path | None, *, check_password: bool = False) -> Settings:
    """Read ``path`` (TOML) and the environment into ``Settings``.

    ``path`` of ``None`` means the default path, which may be missing; a path
    given explicitly must exist.  With ``check_password``, the password
    source is read too, as the daemon does at start and on reload; commands
    that never connect (list, status, prune) skip it.  Raises
    ``ConfigError`` listing every problem.
    """
    source = path or DEFAULT_CONFIG_PATH
    data = _read_toml(source, required=path is not None)
    try:
        settings = Settings(**data)
        if check_password:
            settings.database.target()
    except ValidationError as error:
        raise ConfigError(_describe(error), str(source)) from None
    except ConfigError as error:
        raise ConfigError(error.problems, str(source)) from None
    return settings


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        if required:
            raise ConfigError([
                _("config file {path} does not exist; copy config.example.toml there").format(
                    path=path
                )
            ]) from None
        structlog.get_logger(__name__).warning(
            "config_file_missing", path=str(path), using="built-in defaults"
        )
        return {}
    except OSError as error:
        raise ConfigError([
            _("cannot read {path}: {reason}").format(path=path, reason=error.strerror)
        ]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([
            _("{path} is not valid TOML: {error}").format(path=path, error=error)
        ]) from None


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        key = ".".join(str(part) for part in item["loc"])
        value = item.get("input")
        if any(secret in key for secret in SECRET_KEYS):
            shown = _("(hidden)")
        elif isinstance(value, dict):
            shown = _("(a table)")
        else:
            shown = repr(value)
        message = _pydantic_message(item)
        if item["type"] == "extra_forbidden":
            message = _("unknown key; check the spelling against config.example.toml")
        variable = environment_variable(item["loc"])
        if variable in os.environ:
            key = _("{key} (from the environment variable {variable})").format(
                key=key, variable=variable
            )
        problems.append(f"{key} = {shown}: {message}")
    return problems


def environment_variable(location: tuple[Any, ...]) -> str:
    """Return the environment variable that sets the setting at ``location``."""
    return ENV_PREFIX + "__".join(str(part) for part in location).upper()


def _pydantic_message(item: Any) -> str:
    """Return pydantic's message for one error, translated for the common types.

    The English msgids repeat pydantic 2's wording, so English output is
    unchanged; other error types keep pydantic's English text.
    """
    context = item.get("ctx") or {}
    error_type = item["type"]
    if error_type == "too_short":
        return ngettext(
            "List should have at least {min_length} item after validation, not {actual_length}",
            "List should have at least {min_length} items after validation, not {actual_length}",
            context["min_length"],
        ).format(**context)
    templates = {
        "greater_than_equal": _("Input should be greater than or equal to {ge}"),
        "less_than_equal": _("Input should be less than or equal to {le}"),
        "literal_error": _("Input should be {expected}"),
        "int_parsing": _("Input should be a valid integer, unable to parse string as an integer"),
        "int_from_float": _("Input should be a valid integer, got a number with a fractional part"),
        "bool_parsing": _("Input should be a valid boolean, unable to interpret input"),
        "list_type": _("Input should be a valid list"),
        "string_type": _("Input should be a valid string"),
        "model_type": _("Input should be a valid dictionary or instance of {class_name}"),
    }
    if error_type in templates:
        return templates[error_type].format(**context)
    return str(item["msg"]).removeprefix("Value error, ")
