"""The fixed line layout shared by the document writer and reader.

A backup is one JSON document whose structure is spread over lines so that
it can be written and checked as a stream, one row per line::

    {"format":"taskagent-backup","format_version":1,"header":{...},
    "tables":{
    "public":{
    "users":{"table":{...},"rows":[
    ["3f1c...","alice@example.com","2025-08-14 14:54:41.236391+00"],
    ["9a2e...","bob@example.com",null]
    ],"row_count":2,"sha256":"..."}
    ,"projects":{"table":{...},"rows":[
    ],"row_count":0,"sha256":"..."}
    }
    },
    "trailer":{...}}

Every value is a JSON string holding PostgreSQL's text form of the value
(``col::text``) or ``null``.  The SHA-256 of a table covers each row line,
without its separating comma, followed by a newline byte.
"""

from __future__ import annotations

import re

DOCUMENT_PREFIX = b'{"format":"taskagent-backup","format_version":'
TABLES_OPEN = b'"tables":{\n'
TABLES_CLOSE = b"},\n"
SCHEMA_CLOSE = b"}\n"
TRAILER_PREFIX = b'"trailer":'
ROW_SEPARATOR = b",\n"

SCHEMA_OPEN = re.compile(rb'^(,?)("(?:[^"\\]|\\.)*"):\{$')
TABLE_OPEN = re.compile(rb'^(,?)("(?:[^"\\]|\\.)*"):\{"table":(.*),"rows":\[$')
TABLE_CLOSE = re.compile(rb'^\],"row_count":(\d+),"sha256":"([0-9a-f]{64})"\}$')
