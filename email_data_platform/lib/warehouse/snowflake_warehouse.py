"""Snowflake, through dagster-snowflake's `SnowflakeResource` (imported only when used: ~10 s).

Frames are loaded with `executemany` and `?` bindings: the connector turns a large batch into one
upload to a stage and one COPY, so a load is a single round of work whatever its size. Dates and
timestamps are bound as ISO text and cast by the column's type.
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field

import polars as pl

from email_data_platform.lib.warehouse.dialect import create_table_sql, json_columns, translate
from email_data_platform.lib.warehouse.names import split_table_name
from email_data_platform.lib.warehouse.staged import StagedWarehouse

logger = logging.getLogger(__name__)

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
            frame = pl.from_arrow(table)
            return _normalise(frame.rename({c: c.lower() for c in frame.columns}))
        finally:
            cursor.close()

    def _ensure_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {schema}")

    def _load(self, table: str, frame: pl.DataFrame) -> None:
        self._run(create_table_sql(table, frame.schema, self.dialect), None)
        if frame.height == 0:
            return
        (insert,) = translate(f"insert into {table} ({', '.join(frame.columns)}) "
                              f"values ({', '.join('?' for _ in frame.columns)})", self.dialect)
        cursor = self._connection().cursor()
        try:
            cursor.executemany(insert, list(_bindable(frame).iter_rows()))
        finally:
            cursor.close()

    def exists(self, table: str) -> bool:
        schema, name = split_table_name(table)
        found = self._run("select count(*) from information_schema.tables"
                          " where table_schema = ? and table_name = ?",
                          [schema.upper(), name.upper()])
        return found is not None and found.item() > 0


def _bindable(frame: pl.DataFrame) -> pl.DataFrame:
    """Temporal columns as ISO text (cast by the target column), nested ones as JSON."""
    temporal = [n for n, t in frame.schema.items() if t.is_temporal()]
    return json_columns(frame).with_columns(pl.col(n).cast(pl.Utf8) for n in temporal)


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps in microseconds and integers as Int64, as DuckDB returns them, so every engine
    reads alike (Snowflake's Arrow results use the narrowest integer that holds the values)."""
    return frame.with_columns(
        [pl.col(n).cast(pl.Datetime("us", t.time_zone))
         for n, t in frame.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col(n).cast(pl.Int64) for n, t in frame.schema.items() if t.is_integer()])
