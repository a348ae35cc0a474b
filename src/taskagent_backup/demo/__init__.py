"""A built-in demo database: the TaskAgent schema filled with sample data."""
