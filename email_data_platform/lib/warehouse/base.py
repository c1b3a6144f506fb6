"""The warehouse interface: intent-level operations every implementation offers.

Callers say what they mean (replace a table, append, upsert by key, delete where, read) and
write any other SQL once, in DuckDB's dialect with `?` placeholders; each implementation
translates it (see `dialect.py`). Table names are `schema.table` in lower snake case.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from email_data_platform.lib.warehouse.names import check_table_name


@dataclass(frozen=True)
class TableWrite:
    """One write of a `Warehouse.write_together` batch: `replace`, `append` or `upsert` (by
    `key`) `frame` into `table`."""

    table: str
    frame: pl.DataFrame
    mode: str = "replace"
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_table_name(self.table)
        if self.mode not in ("replace", "append", "upsert"):
            raise ValueError(f"write mode must be replace, append or upsert, not {self.mode!r}")
        if self.mode == "upsert" and not self.key:
            raise ValueError(f"upsert into {self.table} needs a key")


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
        """Replace several tables, atomic together where the engine allows (see
        `write_together`)."""
        self.write_together([TableWrite(table, frame) for table, frame in frames.items()])

    @abstractmethod
    def write_together(self, writes: list[TableWrite], evolve: bool = False) -> None:
        """Several writes that readers see all or none of: one transaction on DuckDB and on
        Snowflake (frames staged first, then only DML inside it), each write atomic on its own
        on BigQuery (every statement is a job). With `evolve`, a frame's columns missing from
        its existing table are added first (older rows read them as null)."""

    @abstractmethod
    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Add rows, matching columns by name; creates the table when it is missing."""

    @abstractmethod
    def upsert(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        """Insert rows, replacing existing rows with the same key (a merge), in one statement
        or transaction: re-running a batch lands every record once."""

    @abstractmethod
    def insert_missing(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        """Insert the rows whose key is not in `table` yet (never touching stored rows), in one
        statement or transaction; creates the table when missing. Returns how many were new."""

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

    @abstractmethod
    def tables(self, schema: str) -> list[str]:
        """Every base table of `schema`, as `schema.table` names, sorted."""

    @abstractmethod
    def table_columns(self) -> dict[str, list[str]]:
        """{`schema.table`: its column names in order} for every base table held."""

    def column_catalogue(self) -> pl.DataFrame:
        """Every column of every base table of the current database: tbl (`schema.table`),
        col and is_text, lower case, in column order. The standard information_schema (DuckDB,
        Snowflake); BigQuery keeps one per dataset and overrides this."""
        return self.query(
            "select lower(c.table_schema) || '.' || lower(c.table_name) as tbl,"
            " lower(c.column_name) as col, lower(c.data_type) in ('varchar', 'text', 'string')"
            " as is_text from information_schema.columns c join information_schema.tables t"
            " on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema"
            " and t.table_name = c.table_name where t.table_type = 'BASE TABLE'"
            " and c.table_catalog = current_database()"
            " and lower(c.table_schema) not in ('information_schema', 'pg_catalog')"
            " order by tbl, c.ordinal_position")

    def row_count(self, table: str) -> int:
        return int(self.query(f"select count(*) as n from {check_table_name(table)}")["n"][0])

    def query_in_parts(self, select: str, key: str, part_rows: int) -> Iterator[pl.DataFrame]:
        """The rows of `select` in parts of about `part_rows` (see `key_ranges`). For work that
        is per key: at a million people a whole table read into one frame is what the run's
        memory grows with."""
        starts = self.query(part_starts_query(select, key, part_rows))["k"].to_list()
        for condition, params in key_ranges(key, starts):
            yield self.query(f"select * from ({select}) as s where {condition}", params)

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


def part_starts_query(select: str, key: str, part_rows: int) -> str:
    """SQL for the first `key` value (column k) of each part after the first, when the rows of
    `select` are cut, in key order, into parts of about `part_rows`: a key starts the part its
    preceding rows fall in, so a part holds less than `part_rows` plus its last key's rows.
    Computed by the warehouse, in its own order, so no key list crosses to Python."""
    return (
        f"select k from (select min(k) as k, part from (select k, (sum(n) over (order by k) - n)"
        f" // {int(part_rows)} as part from (select {key} as k, count(*) as n from ({select})"
        f" as s where {key} is not null group by {key}) as c) as p group by part) as b"
        " where part > 0 order by k")


def key_ranges(key: str, starts: list) -> list[tuple[str, list]]:
    """SQL conditions on `key`, with their parameters, that cut rows into ranges at `starts`
    (in the warehouse's order, as `part_starts_query` gives them): every row lands in exactly
    one range, every row of one key value in the same one, and rows whose key is null in the
    first."""
    if not starts:
        return [("true", [])]
    return [(f"({key} < ? or {key} is null)", [starts[0]]),
            *((f"{key} >= ? and {key} < ?", [low, high])
              for low, high in zip(starts, starts[1:], strict=False)),
            (f"{key} >= ?", [starts[-1]])]
