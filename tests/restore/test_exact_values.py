"""Every supported column type comes back with identical ``col::text``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NewDatabase, connect_to
from tests.restore.helpers import back_up, execute, restore

EVERY_TYPE_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'très "heureux"');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN short_code AS varchar(5);
CREATE TYPE pair AS (label text, amount numeric);
CREATE TABLE every_type (
    id integer PRIMARY KEY,
    n numeric, n_scaled numeric(40, 10), f4 real, f8 double precision,
    ts timestamp, tstz timestamptz, tstz3 timestamptz(3), d date, t time, ttz timetz,
    iv interval, b bytea, u uuid, j json, jb jsonb,
    int_matrix integer[], text_array text[], e mood, e_array mood[],
    positive positive_int, code short_code, composite pair, composite_array pair[],
    txt text, vc varchar(10), ch char(4), bits bit(3), varbits bit varying(8),
    i2 smallint, i8 bigint, flag boolean, address inet, network cidr, mac macaddr,
    range int4range, tsrange tstzrange, point point, xml_value xml
);
"""

EVERY_TYPE_ROWS = r"""
SET TimeZone = 'America/New_York';
INSERT INTO every_type VALUES
(1, 123456789012345678901234567890.123456789, 1.5000000000, 'NaN', 'NaN',
 '2025-03-09 02:30:00', '2025-03-09 02:30:00', '2025-11-02 01:30:00.123456-04', '2025-01-01',
 '23:59:59.999999', '12:00:00+09:30', '1 year 2 mons -3 days 04:05:06.789', '',
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a": [1.50, "x"], "b": 2}',
 '{"b": 1, "a": [1.50, "x"]}', '{{1,NULL,3},{4,5,NULL}}',
 ARRAY['a,b', 'c"d', NULL, '', 'NULL'],
 'très "heureux"', '{sad,NULL,"très \"heureux\""}', 7, 'ab', ROW('x, "y"', 1.10),
 ARRAY[ROW('a', 1)::pair, NULL],
 E'tab\there\nnewline \\ backslash "quote" \u00e9 \U0001F600 \u200b',
 'ten chars!', 'ab', B'101', B'1', -32768, 9223372036854775807, true, '::1', '10.0.0.0/8',
 '08:00:2b:01:02:03', '[1,10)', '[2025-01-01 00:00+00,infinity)', '(1.5,-2)', '<a>x</a>'),
(2, -0.000000000000000000000000000001, -99999999.9999999999, 'Infinity', '-Infinity',
 'infinity', '-infinity', 'infinity', '-infinity', '00:00:00', '00:00:00-12', '-178956970 years',
 '\x00ff0a5c', '00000000-0000-0000-0000-000000000000', 'null', '"text"', '{}', '{}', 'sad',
 '{}', 2147483647, '', ROW(NULL, NULL), '{}', '', '', '', B'000', B'', 0, -9223372036854775808,
 false, '2001:db8::1/64', '::/0', 'ff:ff:ff:ff:ff:ff', 'empty', 'empty', '(0,0)', ''),
(3, 'NaN', 0.0000000001, '-0', '-0', '1999-12-31 23:59:59.999999', '2000-02-29 12:00:00+14',
 '1970-01-01 00:00:00.001+00', '0001-01-01 BC', '24:00:00', '24:00:00+15:59', '0',
 NULL, NULL, '[1.0, 1e3, -0]', '[1.0, 1e3, -0]', '{{{1}},{{2}}}', '{NULL}', NULL, '{NULL}',
 NULL, NULL, NULL, NULL, 'ü', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL),
(4, 0, 0, 1.17549435e-38, 2.2250738585072014e-308, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

COMPARE_ZONES = ("UTC", "Asia/Tokyo", "Pacific/Chatham", "America/St_Johns")


@pytest.fixture
def client_zone() -> Iterator[None]:
    """Run the test with a non-UTC client TZ, as an operator's shell may have."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


async def column_texts(dsn: str, zone: str) -> dict[str, list[tuple[int, str | None]]]:
    """Return ``col::text`` of every column of ``every_type`` under session ``zone``."""
    connection = await connect_to(dsn)
    try:
        await connection.execute(f"SET TimeZone = '{zone}'")
        names = [
            row["attname"]
            for row in await connection.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'every_type'::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ]
        texts = {}
        for name in names:
            rows = await connection.fetch(
                f'SELECT id, "{name}"::text AS v FROM every_type ORDER BY id'
            )
            texts[name] = [(row["id"], row["v"]) for row in rows]
        return texts
    finally:
        await connection.close()


async def test_every_type_restores_identical_text(
    new_database: NewDatabase, tmp_path: Path, client_zone: None
) -> None:
    source = await new_database("types")
    await execute(source, EVERY_TYPE_DDL + EVERY_TYPE_ROWS)
    path = await back_up(source, tmp_path, database={"schemas": ["public"]})
    target = await new_database("types_target")

    await restore(path, target, create_schema=True)

    for zone in COMPARE_ZONES:
        expected = await column_texts(source, zone)
        restored = await column_texts(target, zone)
        for column, values in expected.items():
            assert restored[column] == values, f"column {column} under TimeZone {zone}"


async def test_every_type_restores_into_existing_schema(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    source = await new_database("types")
    await execute(source, EVERY_TYPE_DDL + EVERY_TYPE_ROWS)
    path = await back_up(source, tmp_path, database={"schemas": ["public"]})
    target = await new_database("types_target")
    await execute(target, EVERY_TYPE_DDL)

    await restore(path, target)

    assert await column_texts(target, "UTC") == await column_texts(source, "UTC")
