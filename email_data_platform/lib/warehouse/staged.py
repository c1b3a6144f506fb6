"""Shared by the cloud warehouses: every write lands in a staging table first, then one
statement (CREATE OR REPLACE ... AS SELECT, INSERT ... SELECT, MERGE) moves it into place.

Snowflake commits each DDL statement on its own and BigQuery runs each DML statement as a job,
so a write is one load plus one statement, never many small ones, and never half-applied.
"""

import uuid
from abc import abstractmethod

import polars as pl

from email_data_platform.lib.warehouse.base import Warehouse
from email_data_platform.lib.warehouse.dialect import translate
from email_data_platform.lib.warehouse.names import check_column_names, split_table_name


class StagedWarehouse(Warehouse):
    """A warehouse reached over a client library; subclasses run native SQL and load frames."""

    @abstractmethod
    def _run(self, statement: str, params: list | None) -> pl.DataFrame | None:
        """Run one native statement; the result as polars with lower-case columns, if any."""

    @abstractmethod
    def _load(self, table: str, frame: pl.DataFrame) -> None:
        """Create (or replace) `table` with exactly `frame`'s columns and rows."""

    @abstractmethod
    def _ensure_schema(self, schema: str) -> None: ...

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        result = None
        for statement in translate(sql, self.dialect):
            result = self._run(statement, params)
        return result if result is not None else pl.DataFrame()

    def execute(self, sql: str, params: list | None = None) -> None:
        for statement in translate(sql, self.dialect):
            self._run(statement, params)

    def _stage(self, table: str, frame: pl.DataFrame) -> str:
        schema, name = split_table_name(table)
        check_column_names(table, frame.columns)
        self._ensure_schema(schema)
        staging = f"{schema}.{name}__staging_{uuid.uuid4().hex[:8]}"
        self._load(staging, frame)
        return staging

    def _from_staging(self, table: str, frame: pl.DataFrame, sql: str) -> int:
        staging = self._stage(table, frame)
        try:
            self.execute(sql.format(table=table, staging=staging))
        finally:
            self.execute(f"drop table if exists {staging}")
        return frame.height

    def replace(self, table: str, frame: pl.DataFrame) -> int:
        return self._from_staging(table, frame,
                                  "create or replace table {table} as select * from {staging}")

    def append(self, table: str, frame: pl.DataFrame) -> int:
        if not self.exists(table):
            return self.replace(table, frame)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        return self._from_staging(
            table, frame, f"insert into {{table}} ({cols}) select {cols} from {{staging}}")

    def upsert(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        self.check_unique_key(table, frame, key)
        if not self.exists(table):
            return self.replace(table, frame)
        on = " and ".join(f't."{k}" = s."{k}"' for k in key)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        values = ", ".join(f's."{c}"' for c in frame.columns)
        updates = ", ".join(f'"{c}" = s."{c}"' for c in frame.columns if c not in key)
        matched = f" when matched then update set {updates}" if updates else ""
        merge = (f"merge into {{table}} t using {{staging}} s on {on}{matched}"
                 f" when not matched then insert ({cols}) values ({values})")
        return self._from_staging(table, frame, merge)
