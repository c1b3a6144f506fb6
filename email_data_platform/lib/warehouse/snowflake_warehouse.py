"""Snowflake, through dagster-snowflake's `SnowflakeResource` (imported only when used: ~10 s).

A frame is loaded as one bound JSON array per ~8 MB (`INSERT ... SELECT VALUE:"COL"::TYPE FROM
TABLE(FLATTEN(PARSE_JSON(?)))`): one statement per chunk, however many rows, where `executemany`
becomes a statement per row on some servers. Dates and timestamps travel as ISO text and are cast
to the column's type.
"""

import logging
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import polars as pl
from sqlglot import exp

from email_data_platform.lib.warehouse.dialect import (
    create_table_sql,
    decode_json_columns,
    duckdb_type,
    json_columns,
    translate,
)
from email_data_platform.lib.warehouse.names import split_table_name
from email_data_platform.lib.warehouse.staged import StagedWarehouse

logger = logging.getLogger(__name__)
_JSON_TYPES = (b"VARIANT", b"ARRAY", b"OBJECT")

@dataclass(frozen=True)
class SnowflakeSettings:
    account: str
    user: str
    database: str
    password: str | None = None
    private_key: str | None = None  # PEM text, for key-pair authentication
    warehouse: str | None = None
    role: str | None = None
    # Extra connector arguments, e.g. host/port/protocol of a local fakesnow server.
    connection_args: dict = field(default_factory=dict)


class SnowflakeWarehouse(StagedWarehouse):
    dialect = "snowflake"
    replace_with_dml = True

    def __init__(self, settings: SnowflakeSettings):
        self.settings = settings
        self._stack: ExitStack | None = None
        self._con = None

    def _connection(self):
        if self._con is None:
            from dagster_snowflake import SnowflakeResource

            s = self.settings
            resource = SnowflakeResource(
                account=s.account, user=s.user, password=s.password, private_key=s.private_key,
                database=s.database, warehouse=s.warehouse, role=s.role,
                additional_snowflake_connection_args={"paramstyle": "qmark",
                                                      **s.connection_args})
            self._stack = ExitStack()
            self._con = self._stack.enter_context(resource.get_connection())
            self._con.cursor().execute(f'create database if not exists "{s.database.upper()}"')
            self._con.cursor().execute(f'use database "{s.database.upper()}"')
        return self._con

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._con = None, None

    def _run(self, statement: str, params: list | None) -> pl.DataFrame | None:
        from snowflake.connector.errors import NotSupportedError

        cursor = self._connection().cursor()
        try:
            cursor.execute(statement, params or None)
            if not cursor.description:
                return None
            try:
                table = cursor.fetch_arrow_all(force_return_table=True)
            except NotSupportedError:  # DDL and DML answer with a JSON status row
                cursor.fetchall()
                return None
            nested = [f.name.lower() for f in table.schema
                      if (f.metadata or {}).get(b"logicalType") in _JSON_TYPES]
            frame = pl.from_arrow(table)
            frame = _normalise(frame.rename({c: c.lower() for c in frame.columns}))
            return decode_json_columns(frame, nested)
        finally:
            cursor.close()

    @contextmanager
    def _transaction(self):
        """One explicit transaction: the DML inside commits together or not at all."""
        self._run("begin transaction", None)
        try:
            yield
        except BaseException:
            self._run("rollback", None)
            raise
        self._run("commit", None)

    def _ensure_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {schema}")

    def _load(self, table: str, frame: pl.DataFrame) -> None:
        self._run(create_table_sql(table, frame.schema, self.dialect), None)
        target = translate(f"select * from {table}", self.dialect)[0].removeprefix("SELECT * FROM ")
        columns = ", ".join(f'"{c.upper()}"' for c in frame.columns)
        values = ", ".join(_from_variant(c, t) for c, t in frame.schema.items())
        insert = (f"INSERT INTO {target} ({columns}) SELECT {values} "
                  "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))")
        for chunk in _json_chunks(frame):
            self._run(insert, [chunk])

    def exists(self, table: str) -> bool:
        schema, name = split_table_name(table)
        found = self._run("select count(*) from information_schema.tables"
                          " where table_schema = ? and table_name = ?",
                          [schema.upper(), name.upper()])
        return found is not None and found.item() > 0

    def table_columns(self) -> dict[str, list[str]]:
        columns = self._run(
            "select lower(c.table_schema) || '.' || lower(c.table_name), lower(c.column_name)"
            " from information_schema.columns c join information_schema.tables t"
            " on t.table_schema = c.table_schema and t.table_name = c.table_name"
            " where t.table_type = 'BASE TABLE' and c.table_schema <> 'INFORMATION_SCHEMA'"
            " order by 1, c.ordinal_position", None)
        found: dict[str, list[str]] = {}
        for table, column in columns.iter_rows() if columns is not None else []:
            found.setdefault(table, []).append(column)
        return found

    def tables(self, schema: str) -> list[str]:
        split_table_name(f"{schema}.x")
        found = self._run("select table_name from information_schema.tables where table_schema = ?"
                          " and table_type = 'BASE TABLE' order by 1", [schema.upper()])
        names = [] if found is None or not found.height else found.to_series().to_list()
        return [f"{schema}.{name.lower()}" for name in names]


def _from_variant(column: str, dtype: pl.DataType) -> str:
    """One column of a loaded JSON row, cast to the column's Snowflake type."""
    sql_type = exp.DataType.build(duckdb_type(dtype), dialect="duckdb").sql("snowflake")
    value = f'VALUE:"{column.upper()}"'
    if sql_type == "VARIANT":
        return f"PARSE_JSON({value}::VARCHAR)"
    return f"{value}::{sql_type}"


def _json_chunks(frame: pl.DataFrame, max_bytes: int = 8_000_000) -> list[str]:
    """The rows as JSON arrays of at most ~8 MB: a VARIANT holds 16 MB at most."""
    flat = _bindable(frame).rename({c: c.upper() for c in frame.columns})
    if flat.height == 0:
        return []
    per_row = max(1, len(flat.head(1000).write_json()) // min(flat.height, 1000))
    rows_per_chunk = max(1, max_bytes // per_row)
    return [flat.slice(start, rows_per_chunk).write_json()
            for start in range(0, flat.height, rows_per_chunk)]


def _bindable(frame: pl.DataFrame) -> pl.DataFrame:
    """Temporal columns as ISO text (cast by the target column), nested ones as JSON."""
    temporal = [n for n, t in frame.schema.items() if t.is_temporal()]
    return json_columns(frame).with_columns(pl.col(n).cast(pl.Utf8) for n in temporal)


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps in microseconds and integers as Int64, as DuckDB returns them, so every engine
    reads alike (Snowflake's Arrow results use the narrowest integer that holds the values)."""
    return frame.with_columns(
        [pl.col(n).cast(pl.Datetime("us", "UTC" if t.time_zone == "Etc/UTC" else t.time_zone))
         for n, t in frame.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col(n).cast(pl.Int64) for n, t in frame.schema.items() if t.is_integer()])
