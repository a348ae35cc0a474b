"""Exact, consistent, streaming PostgreSQL backups for TaskAgent."""

__version__ = "0.1.0"
