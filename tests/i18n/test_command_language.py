"""Commands speak Japanese under a Japanese locale and English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NewDatabase
from tests.restore.helpers import back_up, execute

BIN = Path(sys.executable).parent
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def run_command(program: str, *arguments: str, lang: str) -> subprocess.CompletedProcess[str]:
    """Run ``program`` with ``LANG=lang`` and no other locale variable set."""
    environment = {key: value for key, value in os.environ.items() if key not in LOCALE_VARIABLES}
    environment["LANG"] = lang
    environment["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [str(BIN / program), *arguments],
        capture_output=True, text=True, encoding="utf-8", env=environment, timeout=60,
    )


def test_backup_help_japanese_locale_japanese() -> None:
    result = run_command("taskagent-backup", "--help", lang="ja_JP.UTF-8")

    assert result.returncode == 0
    assert result.stdout.startswith("使い方: taskagent-backup")
    assert "オプション:" in result.stdout
    assert "このヘルプを表示して終了する" in result.stdout
    assert "バックアップをデータベースへリストアする" in result.stdout


def test_backup_missing_argument_japanese_locale_japanese() -> None:
    result = run_command("taskagent-backup", "restore", lang="ja_JP.UTF-8")

    assert result.returncode == 2
    assert "エラー: 次の引数が必要です: backup" in result.stderr


def test_daemon_help_japanese_locale_japanese() -> None:
    result = run_command("taskagent-backupd", "--help", lang="ja_JP.UTF-8")

    assert result.returncode == 0
    assert result.stdout.startswith("使い方: taskagent-backupd")
    assert "今すぐバックアップを1回取得して終了する" in result.stdout


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
def test_backup_help_other_locale_english(lang: str) -> None:
    result = run_command("taskagent-backup", "--help", lang=lang)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: taskagent-backup")
    assert "show this help message and exit" in result.stdout
    assert "restore a backup into a database" in result.stdout


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
def test_daemon_help_other_locale_english(lang: str) -> None:
    result = run_command("taskagent-backupd", "--help", lang=lang)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: taskagent-backupd")
    assert "take one backup now and exit" in result.stdout


def _bad_config(directory: Path) -> Path:
    path = directory / "config.toml"
    path.write_text(
        '[schedule]\ndaily = "every day"\ntimezone = "Mars/Base"\n'
        "[backup]\ncompression_level = 30\n"
    )
    return path


def test_config_error_japanese_locale_japanese(tmp_path: Path) -> None:
    config = _bad_config(tmp_path)

    result = run_command("taskagent-backup", "list", "--config", str(config), lang="ja_JP.UTF-8")

    assert result.returncode == 78
    assert f"{config} の設定が不正です:" in result.stderr
    assert "schedule.daily = 'every day': cron 式が不正です" in result.stderr
    assert "不明なタイムゾーンです" in result.stderr
    assert "backup.compression_level = 30: 19 以下の値を指定してください" in result.stderr


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
def test_config_error_other_locale_english(tmp_path: Path, lang: str) -> None:
    config = _bad_config(tmp_path)

    result = run_command("taskagent-backup", "list", "--config", str(config), lang=lang)

    assert result.returncode == 78
    assert f"invalid configuration in {config}:" in result.stderr
    assert "invalid cron expression" in result.stderr
    assert "unknown time zone" in result.stderr
    assert "backup.compression_level = 30: Input should be less than or equal to 19" in (
        result.stderr
    )


async def _damaged_backup(dsn: str, directory: Path) -> Path:
    path = await back_up(dsn, directory, backup={"compression": "none"})
    text = path.read_bytes()
    path.write_bytes(text.replace(b"user3@example.com", b"user9@example.com", 1))
    return path


async def test_verify_damaged_japanese_locale_japanese(taskagent_dsn: str, tmp_path: Path) -> None:
    path = await _damaged_backup(taskagent_dsn, tmp_path)

    result = run_command("taskagent-backup", "verify", str(path), lang="ja_JP.UTF-8")

    assert result.returncode == 65
    assert result.stdout.startswith(f"失敗 {path}: ")
    assert result.stdout.count(str(path)) == 1
    assert "テーブル auth.users: 行の SHA-256 が一致しません" in result.stdout


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
async def test_verify_damaged_other_locale_english(
    taskagent_dsn: str, tmp_path: Path, lang: str
) -> None:
    path = await _damaged_backup(taskagent_dsn, tmp_path)

    result = run_command("taskagent-backup", "verify", str(path), lang=lang)

    assert result.returncode == 65
    assert result.stdout.startswith(f"FAILED {path}: ")
    assert result.stdout.count(str(path)) == 1
    assert "table auth.users: SHA-256 of the rows does not match" in result.stdout


def _directory_with_foreign_file(directory: Path) -> Path:
    backups = directory / "backups"
    backups.mkdir()
    (backups / "daily_backup_20261204_020000.json").write_text('{"users": []}\n')
    config = directory / "config.toml"
    config.write_text(f'[backup]\ndirectory = "{backups}"\n')
    return config


def test_list_foreign_file_japanese_locale_not_ours(tmp_path: Path) -> None:
    config = _directory_with_foreign_file(tmp_path)

    result = run_command("taskagent-backup", "list", "--config", str(config), lang="ja_JP.UTF-8")

    assert result.returncode == 0
    assert result.stdout.startswith("時刻")
    assert "対象外" in result.stdout
    assert "破損" not in result.stdout


def test_list_foreign_file_c_locale_not_ours(tmp_path: Path) -> None:
    config = _directory_with_foreign_file(tmp_path)

    result = run_command("taskagent-backup", "list", "--config", str(config), lang="C")

    assert result.returncode == 0
    assert "not ours" in result.stdout


async def test_restore_dry_run_japanese_names_failing_table(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    source = await new_database("source")
    await execute(
        source,
        """
        CREATE TABLE people (id int PRIMARY KEY, name text);
        CREATE TABLE pets (id int PRIMARY KEY, name text);
        INSERT INTO people VALUES (1, 'Ann');
        INSERT INTO pets VALUES (1, 'Rex'), (2, 'Rex');
    """,
    )
    path = await back_up(source, tmp_path, database={"schemas": ["public"]})
    target = await new_database("target")
    await execute(
        target,
        """
        CREATE TABLE people (id int PRIMARY KEY, name text);
        CREATE TABLE pets (id int PRIMARY KEY, name text);
        CREATE UNIQUE INDEX pets_name ON pets (name);
    """,
    )

    result = run_command(
        "taskagent-backup", "restore", str(path), "--target-dsn", target, "--dry-run",
        lang="ja_JP.UTF-8",
    )

    assert result.returncode == 1
    assert "  public.people: 挿入予定 1、" in result.stdout
    assert "  public.pets: エラー: テーブル public.pets (インデックス public.pets_name): " in (
        result.stdout
    )
    assert "ドライラン: " in result.stdout
