"""Reading a consistent snapshot of the database: catalog and table streaming."""
