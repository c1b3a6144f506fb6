"""The warehouse: where every asset's table lives.

Assets never talk SQL dialects directly; they read and write polars frames by table name
(`<schema>.<table>`). The embedded default is a DuckDB file. Writes are atomic per table (replace
inside a transaction) so a crash never leaves half a table behind.
"""

import logging
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

logger = logging.getLogger(__name__)

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def check_table_name(table: str) -> str:
    """Accept only `schema.table` in lower snake case: names are interpolated into SQL."""
    if not _TABLE_NAME.match(table):
        raise ValueError(f"table name {table!r} must look like 'schema.table' (lower snake case)")
    return table


class DuckDBWarehouse:
    """A DuckDB file (or `:memory:`) holding one schema per stage."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def connection(self):
        """One connection per warehouse object, serialised: DuckDB allows one writer process."""
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(self.path)
            yield self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    @contextmanager
    def transaction(self, schemas: list[str], **frames: pl.DataFrame):
        """Run statements atomically, with `frames` registered as relations under their names.

        Schemas are created first; on any error the transaction rolls back and re-raises, so a
        table is either fully replaced or untouched.
        """
        with self.connection() as con:
            for schema in schemas:
                con.execute(f"create schema if not exists {schema}")
            for name, frame in frames.items():
                con.register(name, frame.to_arrow())
            try:
                con.execute("begin transaction")
                yield con
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            finally:
                for name in frames:
                    con.unregister(name)

    def write(self, table: str, frame: pl.DataFrame, mode: str = "replace") -> int:
        """Write a frame to `schema.table`; `mode` is `replace` or `append`. Returns rows written.

        An empty frame still creates (or empties) the table, with its columns, so downstream
        readers see zero rows rather than a missing table.
        """
        schema, _ = check_table_name(table).split(".")
        if mode not in ("replace", "append"):
            raise ValueError(f"write mode must be 'replace' or 'append', not {mode!r}")
        with self.transaction([schema], __incoming=frame) as con:
            if mode == "replace" or not self._exists(con, table):
                con.execute(f"create or replace table {table} as select * from __incoming")
            else:
                con.execute(f"insert into {table} by name select * from __incoming")
        logger.info("wrote %d rows to %s (%s)", frame.height, table, mode)
        return frame.height

    def upsert(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        """Insert rows, replacing existing rows with the same key, in one transaction.

        Used by incremental loads: re-running a batch lands every record once.
        """
        schema, _ = check_table_name(table).split(".")
        if frame.select(key).is_duplicated().any():
            raise ValueError(f"upsert into {table}: incoming rows repeat the key {key}")
        on = " and ".join(f't."{k}" = i."{k}"' for k in key)
        with self.transaction([schema], __incoming=frame) as con:
            if not self._exists(con, table):
                con.execute(f"create table {table} as select * from __incoming")
            else:
                con.execute(f"delete from {table} t using __incoming i where {on}")
                con.execute(f"insert into {table} by name select * from __incoming")
        return frame.height

    def read(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.query(f"select {cols} from {check_table_name(table)}")

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        with self.connection() as con:
            return pl.from_arrow(con.execute(sql, params or []).to_arrow_table())

    def execute(self, sql: str, params: list | None = None) -> None:
        with self.connection() as con:
            con.execute(sql, params or []).fetchall()

    def exists(self, table: str) -> bool:
        with self.connection() as con:
            return self._exists(con, check_table_name(table))

    def row_count(self, table: str) -> int:
        with self.connection() as con:
            return con.execute(f"select count(*) from {check_table_name(table)}").fetchone()[0]

    @staticmethod
    def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
        return table_exists(con, table)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether base table `schema.table` exists, on an open connection.

    duckdb_tables() rather than information_schema: ~0.4 ms against ~2 ms, and several checks
    run per asset. The name is checked (lower snake case) before it is inlined.
    """
    schema, name = check_table_name(table).split(".")
    found = con.execute(
        "select count(*) from duckdb_tables()"
        f" where schema_name = '{schema}' and table_name = '{name}'"
    ).fetchone()[0]
    return found > 0
