"""The warehouse interface: intent-level operations every implementation offers.

Callers say what they mean (replace a table, append, upsert by key, delete where, read) and
write any other SQL once, in DuckDB's dialect with `?` placeholders; each implementation
translates it (see `dialect.py`). Table names are `schema.table` in lower snake case.
"""

from abc import ABC, abstractmethod

import polars as pl

from email_data_platform.lib.warehouse.names import check_table_name


class Warehouse(ABC):
    """Where every asset's table lives: DuckDB, Snowflake or BigQuery."""

    dialect: str = "duckdb"

    # --- writes -------------------------------------------------------------------------
    @abstractmethod
    def replace(self, table: str, frame: pl.DataFrame) -> int:
        """Replace `table` with `frame`, atomically: readers see the old or the new rows.

        An empty frame still creates (or empties) the table with its columns.
        """

    def replace_many(self, frames: dict[str, pl.DataFrame]) -> None:
        """Replace several tables; atomic together where the engine allows (DuckDB), one
        table at a time elsewhere (Snowflake and BigQuery commit each DDL statement)."""
        for table, frame in frames.items():
            self.replace(table, frame)

    @abstractmethod
    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Add rows, matching columns by name; creates the table when it is missing."""

    @abstractmethod
    def upsert(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        """Insert rows, replacing existing rows with the same key (a merge), in one statement
        or transaction: re-running a batch lands every record once."""

    def delete_where(self, table: str, condition: str, params: list | None = None) -> None:
        """Delete the rows of `table` matching `condition` (SQL, DuckDB dialect, `?` params)."""
        self.execute(f"delete from {check_table_name(table)} where {condition}", params)

    def write(self, table: str, frame: pl.DataFrame, mode: str = "replace") -> int:
        """`replace` or `append` by name (the original DuckDBWarehouse API)."""
        if mode == "replace":
            return self.replace(table, frame)
        if mode == "append":
            return self.append(table, frame)
        raise ValueError(f"write mode must be 'replace' or 'append', not {mode!r}")

    # --- reads --------------------------------------------------------------------------
    def read(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.query(f"select {cols} from {check_table_name(table)}")

    @abstractmethod
    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        """Rows of a SELECT written in DuckDB's dialect, as polars (column names lower case)."""

    @abstractmethod
    def execute(self, sql: str, params: list | None = None) -> None:
        """A statement without a result (DuckDB dialect)."""

    @abstractmethod
    def exists(self, table: str) -> bool:
        """Whether base table `schema.table` exists."""

    def row_count(self, table: str) -> int:
        return int(self.query(f"select count(*) as n from {check_table_name(table)}")["n"][0])

    def close(self) -> None:  # noqa: B027 - implementations holding connections override it
        """Release connections; the warehouse reconnects when used again."""

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def check_unique_key(table: str, frame: pl.DataFrame, key: list[str]) -> None:
        if frame.select(key).is_duplicated().any():
            raise ValueError(f"upsert into {table}: incoming rows repeat the key {key}")
