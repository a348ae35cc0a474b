"""Loading settings from TOML and the environment, and rejecting bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskagent_backup.errors import EX_CONFIG, ConfigError
from taskagent_backup.settings import load_settings

EXAMPLE_CONFIG = Path(__file__).parents[2] / "config.example.toml"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_example_config_parses() -> None:
    settings = load_settings(EXAMPLE_CONFIG)

    assert settings.schedule.daily == "0 2 * * *"
    assert settings.schedule.weekly == "0 1 * * mon"
    assert settings.retention.daily_days == 7
    assert settings.retention.weekly_days == 28


def test_load_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, '[schedule]\ntimezone = "Asia/Tokyo"\n')
    monkeypatch.setenv("TASKAGENT_BACKUP_SCHEDULE__TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("TASKAGENT_BACKUP_DATABASE__SCHEMAS", '["public", "auth"]')

    settings = load_settings(path)

    assert settings.schedule.timezone == "Europe/Berlin"
    assert settings.database.schemas == ["public", "auth"]


def test_load_invalid_values_lists_each_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[schedule]\ntimezone = "Mars/Olympus"\ndaily = "every night"\n'
        '[backup]\ncompression = "rar"\n'
        "[retention]\ndaily_days = 0\n"
        "[databse]\n",
    )

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    problems = "\n".join(raised.value.problems)
    assert raised.value.exit_code == EX_CONFIG
    assert len(raised.value.problems) == 5
    assert "schedule.timezone = 'Mars/Olympus': unknown time zone" in problems
    assert "schedule.daily = 'every night': invalid cron expression" in problems
    assert "backup.compression = 'rar'" in problems
    assert "'zstd'" in problems
    assert "retention.daily_days = 0" in problems
    assert "databse" in problems
    assert "unknown key" in problems


def test_load_bad_dsn_hides_password(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[database]\ndsn = "postgresql://app:hunter2@host/db?sslmode=maybe"\n'
    )

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert "hunter2" not in str(raised.value)
    assert "sslmode 'maybe' is invalid" in str(raised.value)


def test_load_missing_explicit_file_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_load_invalid_toml_names_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[database\n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_password_from_credential_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db-password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    path = write_config(
        tmp_path,
        '[database]\ndsn = "postgresql://app:in-dsn@host/db"\n'
        'password_credential = "db-password"\n',
    )

    settings = load_settings(path)

    assert settings.database.target().password == "from-credential"
    assert "in-dsn" not in repr(settings)
    assert "from-credential" not in repr(settings)


def test_password_credential_without_directory_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = write_config(tmp_path, '[database]\npassword_credential = "db-password"\n')

    settings = load_settings(path)

    with pytest.raises(ConfigError, match="LoadCredential=db-password"):
        load_settings(path, check_password=True)
    with pytest.raises(ConfigError, match="LoadCredential=db-password"):
        settings.database.target()


def test_password_credential_outside_service_reads_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "db-password").write_text("from-file\n")
    path = write_config(
        tmp_path,
        '[database]\npassword_credential = "db-password"\n'
        f'password_file = "{tmp_path}/db-password"\n',
    )

    settings = load_settings(path, check_password=True)

    assert settings.database.target().password == "from-file"


def test_password_file_missing_fails(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'[database]\npassword_file = "{tmp_path}/nope"\n')

    with pytest.raises(ConfigError, match=r"database\.password_file: cannot read"):
        load_settings(path, check_password=True)


def test_load_invalid_environment_value_names_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKAGENT_BACKUP_SCHEDULE__TIMEZONE", "Mars/Base")
    monkeypatch.setenv("TASKAGENT_BACKUP_SCHEDULE__TIMEZON", "UTC")
    path = write_config(tmp_path, "")

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    problems = "\n".join(raised.value.problems)
    assert "(from the environment variable TASKAGENT_BACKUP_SCHEDULE__TIMEZONE)" in problems
    assert "(from the environment variable TASKAGENT_BACKUP_SCHEDULE__TIMEZON)" in problems
