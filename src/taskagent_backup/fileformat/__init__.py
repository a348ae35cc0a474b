"""The backup file format: a line-structured JSON document (see docs/format.md)."""

FORMAT_NAME = "taskagent-backup"
FORMAT_VERSION = 1
