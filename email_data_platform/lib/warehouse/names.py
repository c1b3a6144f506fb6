"""Table names: `schema.table` in lower snake case, checked before they reach any SQL."""

import re

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_table_name(table: str) -> str:
    """Accept only `schema.table` in lower snake case: names are interpolated into SQL."""
    if not _TABLE_NAME.match(table):
        raise ValueError(f"table name {table!r} must look like 'schema.table' (lower snake case)")
    return table


def check_column_names(table: str, columns: list[str]) -> list[str]:
    """Column names are interpolated too: lower snake case only, so every engine reads them
    the same way (Snowflake folds unquoted names to upper case, BigQuery keeps them)."""
    bad = [c for c in columns if not _COLUMN_NAME.match(c)]
    if bad:
        raise ValueError(f"{table}: column names {bad} must be lower snake case")
    return columns


def split_table_name(table: str) -> tuple[str, str]:
    schema, name = check_table_name(table).split(".")
    return schema, name
