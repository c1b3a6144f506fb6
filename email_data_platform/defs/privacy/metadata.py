"""Moved to `email_data_platform.defs.metadata` (one place for every stage's metadata helpers);
kept as a re-export while other branches still import it from here."""

from email_data_platform.defs.metadata import counts_by, table_metadata, table_schema_check

__all__ = ["counts_by", "table_metadata", "table_schema_check"]
