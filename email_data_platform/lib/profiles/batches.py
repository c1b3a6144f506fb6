"""Cleaning a raw table in bounded batches, so the profiles step's memory does not grow with N.

A cleaner's only rule across rows is per key (the latest version of a record or event wins).
When every raw row has its own key (the landing upserts by key, so sources tables do), any split
cleans to exactly the rows the whole table cleans to: batches are runs of consecutive rows, and
the clean rows land in a staging table in the raw table's order. Otherwise the table is split by
a hash of its key (rows of one key in one batch), each clean row carries its raw position, and
the clean table is written in that order (identity samples its training records by position).
On the DuckDB warehouse each batch holds at most `BATCH_ROWS` raw rows; when every table is
cleaned, the staging tables replace the clean tables in one transaction, so a failure halfway
leaves the previous, consistent set in place. Quarantine and field-issue rows (few) are kept
in memory. Other warehouses clean each table whole, as before.

Measured at 200k contacts: the profiles step peaked at 1,833 MB RSS holding every raw and clean
table at once (5.3 GB at 1M). Batched, it still grew with N (2.6 GB alone at 1M, 4.7 GB in the
2M run): the few quarantine rows kept per batch held the batch's string buffers (`owned`), and
DuckDB cached what it read and wrote up to its 1 GB limit (`bounded_duckdb`). With both, the
step alone peaks at 0.95 GB at 1M and 0.99 GB at 2M (benchmarks/profiles_step.py).
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import ceil

import polars as pl

from email_data_platform.lib.frames import owned
from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.field_issues import empty_field_issues
from email_data_platform.lib.profiles.quarantine import empty_quarantine
from email_data_platform.lib.profiles.staging import CleanResult
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.lib.warehouse.names import split_table_name

logger = logging.getLogger(__name__)

# Raw rows per batch: ~0.3-0.5 GB of working frames for the widest table (contacts).
BATCH_ROWS = 200_000
# DuckDB's share of the step while a table is cleaned. Under the warehouse's 1 GB limit it
# cached every batch read and written (0.7 GB by the fourth table at 1M contacts) and the
# uniqueness check of 3.1M event ids alone took 0.6 GB; past this limit it spills to disk
# (that check ran no slower at 128 MB).
DUCKDB_MEMORY_LIMIT = "256MB"
STAGING_PREFIX = "next_"
POSITION = "__position"


@dataclass(frozen=True)
class CleanedTable:
    """One raw table cleaned: the clean rows (in memory, or waiting in `staged_table`, in raw
    order unless they carry their `__position`), the quarantine and field-issue rows, and the
    figures the asset reports."""

    clean_table: str
    clean_rows: int
    quarantine: pl.DataFrame
    field_issues: pl.DataFrame
    raw_columns: list[str]
    seconds: float
    batches: int = 1
    clean: pl.DataFrame | None = None
    staged_table: str | None = None
    positioned: bool = False

    @property
    def raw_rows(self) -> int:
        return self.clean_rows + self.quarantine.height


def staging_name(clean_table: str) -> str:
    schema, name = split_table_name(clean_table)
    return f"{schema}.{STAGING_PREFIX}{name}"


@contextmanager
def bounded_duckdb(wh):
    """DuckDB held to DUCKDB_MEMORY_LIMIT inside, and what it cached given back after."""
    if wh.path == ":memory:":  # the data is the cache there: a lower limit would spill it
        yield
        return
    wh.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    try:
        yield
    finally:
        wh.release_memory()  # evicts, then sets the warehouse's own limit back


def _one_row_per_key(wh, raw_table: str, key: str) -> bool:
    found = wh.query(f'select count(*) = count(distinct "{key}") as unique_keys from {raw_table}')
    return bool(found["unique_keys"][0])


def raw_batches(wh, raw_table: str, key: str, batch_rows: int = BATCH_ROWS
                ) -> tuple[bool, Iterator[pl.DataFrame]]:
    """(positioned, batches of about `batch_rows` raw rows). Runs of consecutive rows when
    every row has its own non-null key; else split by a hash of `key` (rows of one key in one
    batch, table order kept inside each), each row with its `__position` in the table."""
    count = wh.row_count(raw_table)
    if count <= batch_rows:
        return False, iter([wh.read(raw_table)])
    if _one_row_per_key(wh, raw_table, key):
        return False, _checked(raw_table, count, _row_runs(wh, raw_table, batch_rows))
    parts = ceil(count / batch_rows)
    return True, _checked(raw_table, count, (
        wh.query(f"select rowid as {POSITION}, * from {raw_table}"
                 f' where hash("{key}") % {parts} = {part}') for part in range(parts)))


def _row_runs(wh, raw_table: str, batch_rows: int) -> Iterator[pl.DataFrame]:
    first, last = wh.query(f"select min(rowid) as a, max(rowid) as b from {raw_table}").row(0)
    for start in range(first, last + 1, batch_rows):
        yield wh.query(f"select * from {raw_table} where rowid >= {start}"
                       f" and rowid < {start + batch_rows} order by rowid")


def _checked(raw_table: str, count: int, batches: Iterator[pl.DataFrame]
             ) -> Iterator[pl.DataFrame]:
    seen = 0
    for batch in batches:
        seen += batch.height
        yield batch
    if seen != count:  # every raw row is cleaned once, or the accounting would not hold
        raise RuntimeError(f"{raw_table}: batches held {seen} rows of {count}")


def _with_positions(clean: pl.DataFrame, raw: pl.DataFrame, key: str) -> pl.DataFrame:
    """The clean rows with the raw table position of their record, so the clean table keeps
    the raw table's order across batches. A key the cleaner rewrote (a withdrawal's synthetic
    id) has none: such rows go last."""
    positions = raw.select(key, POSITION).unique(key, keep="last")
    return clean.join(positions, on=key, how="left", maintain_order="left")


def clean_table(wh, raw_table: str, key: str, clean_table: str,
                cleaner: Callable[[pl.DataFrame, str], CleanResult], run_id: str,
                batch_rows: int = BATCH_ROWS) -> CleanedTable:
    """Clean `raw_table`; on DuckDB batch by batch into a staging table, else whole in memory."""
    started = time.perf_counter()
    if not isinstance(wh, DuckDBWarehouse):
        raw = wh.read(raw_table)
        result = cleaner(raw, run_id)
        return CleanedTable(clean_table, result.clean.height, result.quarantine,
                            result.field_issues, raw.columns,
                            round(time.perf_counter() - started, 3), clean=result.clean)
    with bounded_duckdb(wh):
        return _clean_in_batches(wh, raw_table, key, clean_table, cleaner, run_id, batch_rows,
                                 started)


def _clean_in_batches(wh, raw_table: str, key: str, clean_table: str,
                      cleaner: Callable[[pl.DataFrame, str], CleanResult], run_id: str,
                      batch_rows: int, started: float) -> CleanedTable:
    staged = staging_name(clean_table)
    positioned, batches = raw_batches(wh, raw_table, key, batch_rows)
    quarantines, issues, raw_columns, rows, done = [], [], [], 0, 0
    for batch in batches:
        raw = batch.drop(POSITION) if positioned else batch
        result = cleaner(raw, run_id)
        clean = _with_positions(result.clean, batch, key) if positioned else result.clean
        wh.write(staged, clean, mode="replace" if done == 0 else "append")
        raw_columns = raw_columns or raw.columns
        rows += result.clean.height
        done += 1
        quarantines.append(owned(result.quarantine))
        issues.append(owned(result.field_issues))
        del batch, raw, result, clean  # one batch's frames at a time
    return CleanedTable(
        clean_table, rows, pl.concat([empty_quarantine(), *quarantines], how="vertical"),
        pl.concat([empty_field_issues(), *issues], how="vertical"), raw_columns,
        round(time.perf_counter() - started, 3), batches=done, staged_table=staged,
        positioned=positioned)


def validate_warehouse_table(wh, model, table: str, key_column: str,
                             batch_rows: int = BATCH_ROWS) -> schemas.ValidationSummary:
    """`model`'s pandera verdict on a warehouse table. On DuckDB, a table larger than
    `batch_rows` is read and checked in the batches cleaning uses (rows of one key together),
    when every uniqueness rule of the model includes `key_column`; otherwise it is read whole.
    At 1M contacts a whole raw events table read for its check held 2.5 GB."""
    if not isinstance(wh, DuckDBWarehouse) or not schemas.splits_by(model, key_column):
        return schemas.validate_table(model, wh.read(table), key_column)
    with bounded_duckdb(wh):
        positioned, batches = raw_batches(wh, table, key_column, batch_rows)
        return schemas.validate_parts(
            model, (b.drop(POSITION) if positioned else b for b in batches), key_column)


def publish(wh, cleaned: list[CleanedTable]) -> None:
    """Put every cleaned table in place: staged ones replace their clean table in one
    transaction (DuckDB), in-memory ones are written."""
    staged = [c for c in cleaned if c.staged_table is not None]
    if staged:
        schemas = sorted({split_table_name(c.clean_table)[0] for c in staged})
        with wh.transaction(schemas) as con:
            for table in staged:
                if table.positioned:
                    con.execute(f"create or replace table {table.clean_table} as select *"
                                f" exclude ({POSITION}) from {table.staged_table}"
                                f" order by {POSITION} nulls last")
                    con.execute(f"drop table {table.staged_table}")
                else:  # already in raw order: no second write
                    con.execute(f"drop table if exists {table.clean_table}")
                    con.execute(f"alter table {table.staged_table} rename to"
                                f" {split_table_name(table.clean_table)[1]}")
    for table in cleaned:
        if table.clean is not None:
            wh.write(table.clean_table, table.clean)
        logger.info("%s: %d rows in %d batch(es)", table.clean_table, table.clean_rows,
                    table.batches)
