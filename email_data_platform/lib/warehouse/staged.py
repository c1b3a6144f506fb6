"""Shared by the cloud warehouses: every write lands in a staging table first, then one
statement (CREATE OR REPLACE ... AS SELECT, INSERT ... SELECT, MERGE) moves it into place.

Snowflake commits each DDL statement on its own and BigQuery runs each DML statement as a job,
so a write is one load plus one statement, never many small ones, and never half-applied.
"""

import logging
import uuid
from abc import abstractmethod
from contextlib import contextmanager

import polars as pl

from email_data_platform.lib.warehouse.base import TableWrite, Warehouse
from email_data_platform.lib.warehouse.declared import (
    DECLARED_TYPES,
    cast_declared,
    declarations,
)
from email_data_platform.lib.warehouse.dialect import duckdb_type, translate
from email_data_platform.lib.warehouse.names import check_column_names, split_table_name

logger = logging.getLogger(__name__)


class StagedWarehouse(Warehouse):
    """A warehouse reached over a client library; subclasses run native SQL and load frames."""

    # Replace inside a batch by DELETE + INSERT (transactional DML) rather than CREATE OR
    # REPLACE (DDL, which commits on its own).
    replace_with_dml = False
    keeps_decimal_scale = True  # Snowflake's NUMBER(p, s) reads back as written

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
        self._declare_types(table, frame)
        return staging

    def _declare_types(self, table: str, frame: pl.DataFrame) -> None:
        """Record the column types the engine cannot give back by itself (`declared.py`)."""
        if table == DECLARED_TYPES:
            return
        known = self._declared().get(table, {})
        changed = {c: t for c, t in declarations(frame, self.keeps_decimal_scale).items()
                   if known.get(c, "") != t}
        if not changed:
            return
        self.upsert(DECLARED_TYPES, pl.DataFrame({
            "table_name": [table] * len(changed), "column_name": list(changed),
            "declared_type": list(changed.values())}), key=["table_name", "column_name"])
        self._declared().setdefault(table, {}).update(changed)

    def _declared(self) -> dict[str, dict[str, str]]:
        """The catalog of declared types, read once per warehouse object (then kept current by
        this object's own writes)."""
        if getattr(self, "_declared_cache", None) is None:
            cache: dict[str, dict[str, str]] = {}
            if self.exists(DECLARED_TYPES):
                for table, column, spelled in self.query(
                        f"select table_name, column_name, declared_type from {DECLARED_TYPES}"
                ).iter_rows():
                    cache.setdefault(table, {})[column] = spelled
            self._declared_cache = cache
        return self._declared_cache

    def read(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        """Rows of `table` with the column types they were written with."""
        return cast_declared(super().read(table, columns), self._declared().get(table, {}))

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

    def write_together(self, writes: list[TableWrite], evolve: bool = False) -> None:
        """Stage every frame, prepare the targets (create, or add columns: DDL, which commits
        on its own), then move all rows with DML inside one transaction where the engine has
        them (Snowflake); a replace whose table changed shape is a CREATE OR REPLACE."""
        for w in writes:
            if w.mode == "upsert":
                self.check_unique_key(w.table, w.frame, list(w.key))
        staged: list[tuple[TableWrite, str]] = []
        try:
            for w in writes:
                staged.append((w, self._stage(w.table, w.frame)))
            moves = [statement for w, staging in staged
                     for statement in self._prepare_move(w, staging, evolve)]
            with self._transaction():
                for statement in moves:
                    self.execute(statement)
        finally:
            for _, staging in staged:
                self.execute(f"drop table if exists {staging}")
        for w in writes:
            logger.info("wrote %d rows to %s (%s)", w.frame.height, w.table, w.mode)

    @contextmanager
    def _transaction(self):
        """Statements inside commit together; engines without multi-statement transactions
        run them one by one."""
        yield

    def _columns(self, table: str) -> pl.Schema:
        return self.query(f"select * from {table} limit 0").schema

    def _prepare_move(self, w: TableWrite, staging: str, evolve: bool) -> list[str]:
        """DDL run now (create or evolve the target); returns the DML that moves the rows."""
        cols = ", ".join(f'"{c}"' for c in w.frame.columns)
        if not self.exists(w.table):
            self.execute(f"create table {w.table} as select * from {staging} where 1 = 0")
        elif w.mode == "replace" and not self.replace_with_dml:
            return [f"create or replace table {w.table} as select * from {staging}"]
        elif w.mode == "replace":
            if self._columns(w.table) != self._columns(staging):
                self.execute(f"create or replace table {w.table} as select * from {staging}"
                             " where 1 = 0")
            return [f"delete from {w.table} where true",
                    f"insert into {w.table} ({cols}) select {cols} from {staging}"]
        elif evolve:
            existing = self._columns(w.table)
            for name, dtype in w.frame.schema.items():
                if name not in existing:
                    self.execute(f'alter table {w.table} add column "{name}" {duckdb_type(dtype)}')
        insert = f"insert into {w.table} ({cols}) select {cols} from {staging}"
        if w.mode == "upsert" and self.replace_with_dml:
            # DELETE + INSERT inside the transaction: the same rows as a MERGE (keys are
            # unique in the batch), and plain DML every engine with transactions runs.
            on = " and ".join(f't."{k}" = s."{k}"' for k in w.key)
            return [f"delete from {w.table} t where exists (select 1 from {staging} s"
                    f" where {on})", insert]
        if w.mode == "upsert":
            return [self._merge_sql(w.table, staging, w.frame.columns, list(w.key))]
        return [insert]

    @staticmethod
    def _merge_sql(table: str, staging: str, columns: list[str], key: list[str]) -> str:
        on = " and ".join(f't."{k}" = s."{k}"' for k in key)
        cols = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(f's."{c}"' for c in columns)
        updates = ", ".join(f'"{c}" = s."{c}"' for c in columns if c not in key)
        matched = f" when matched then update set {updates}" if updates else ""
        return (f"merge into {table} t using {staging} s on {on}{matched}"
                f" when not matched then insert ({cols}) values ({values})")

    def append(self, table: str, frame: pl.DataFrame) -> int:
        if not self.exists(table):
            return self.replace(table, frame)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        return self._from_staging(
            table, frame, f"insert into {{table}} ({cols}) select {cols} from {{staging}}")

    def insert_missing(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        """Count the new rows, then one MERGE that only inserts (stored rows are never touched)."""
        self.check_unique_key(table, frame, key)
        if not self.exists(table):
            return self.replace(table, frame)
        on = " and ".join(f't."{k}" = s."{k}"' for k in key)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        values = ", ".join(f's."{c}"' for c in frame.columns)
        staging = self._stage(table, frame)
        try:
            new = self.query(f"select count(*) as n from {staging} s where not exists"
                             f" (select 1 from {table} t where {on})")["n"].item()
            self.execute(f"merge into {table} t using {staging} s on {on}"
                         f" when not matched then insert ({cols}) values ({values})")
        finally:
            self.execute(f"drop table if exists {staging}")
        return int(new)

    def upsert(self, table: str, frame: pl.DataFrame, key: list[str]) -> int:
        self.check_unique_key(table, frame, key)
        if not self.exists(table):
            return self.replace(table, frame)
        return self._from_staging(table, frame,
                                  self._merge_sql("{table}", "{staging}", frame.columns, key))
