"""Parsing DSNs pasted from Supabase, Heroku and psql."""

from __future__ import annotations

import pytest

from taskagent_backup.dsn import parse_dsn


def test_parse_supabase_url_translates_sslmode() -> None:
    target = parse_dsn(
        "postgres://postgres.abcd:s3cr%40t%2Fpw@aws-0-ap-northeast-1.pooler.supabase.com:6543"
        "/postgres?sslmode=require"
    )

    assert target.host == "aws-0-ap-northeast-1.pooler.supabase.com"
    assert target.port == 6543
    assert target.user == "postgres.abcd"
    assert target.password == "s3cr@t/pw"
    assert target.database == "postgres"
    assert target.connect_kwargs()["ssl"] == "require"


def test_parse_ipv6_host_keeps_address() -> None:
    target = parse_dsn("postgresql://app@[2001:db8::1]:5433/taskagent?sslmode=verify-full")

    assert target.host == "2001:db8::1"
    assert target.port == 5433
    assert target.ssl_mode == "verify-full"
    assert target.display() == "postgresql://app@[2001:db8::1]:5433/taskagent"


def test_parse_unix_socket_query_host_skips_ssl() -> None:
    target = parse_dsn("postgresql://postgres@/taskagent?host=/run/postgresql&port=5433")

    assert target.host == "/run/postgresql"
    assert target.port == 5433
    assert "ssl" not in target.connect_kwargs()


def test_parse_default_port_and_sslmode() -> None:
    target = parse_dsn("postgresql://app@db.example.com/taskagent")

    assert target.port == 5432
    assert target.ssl_mode == "prefer"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("mysql://app@host/db", "scheme 'mysql' is not supported"),
        ("postgresql://app@host/db?sslmode=sometimes", "sslmode 'sometimes' is invalid"),
        ("postgresql://app@host/db?target_session_attrs=any", "unsupported DSN parameter"),
        ("postgresql://app@h1,h2/db", "several hosts"),
        ("postgresql://app:pw@host:99999/db", "port"),
    ],
)
def test_parse_invalid_dsn_names_problem(dsn: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as raised:
        parse_dsn(dsn)

    assert "pw" not in str(raised.value).replace("port", "")


def test_repr_and_display_hide_password() -> None:
    target = parse_dsn("postgresql://app:hunter2@host/db")

    assert "hunter2" not in repr(target)
    assert "hunter2" not in target.display()


def test_parse_percent_encoded_socket_directory() -> None:
    target = parse_dsn("postgresql://app@%2Ftmp%2FMy-Sock:5499/taskagent")

    assert target.host == "/tmp/My-Sock"
    assert target.port == 5499
    assert "ssl" not in target.connect_kwargs()
