"""Landing raw records exactly once: upserts, cursors, an extraction log and a quarantine.

- `land` upserts a batch by its key after keeping one row per key (the latest version), so a
  re-run or an overlapping window never duplicates a record.
- `CursorStore` keeps one high-water mark per (source, object) in `sources.cursors`; callers
  advance it only after the batch it covers has been landed.
- `log_extraction` appends one row per extraction to `sources.extraction_log` with the figures
  reconciliation compares later (source-reported total, rows landed, checksum).
- `quarantine` appends records that broke the vendor's contract to `sources.quarantine`, with the
  same columns as `profiles.quarantine`.
"""

import json
import logging
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.stage import apply_tombstones
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.lib.warehouse.dialect import duckdb_type

logger = logging.getLogger(__name__)

CURSORS = "sources.cursors"
EXTRACTION_LOG = "sources.extraction_log"
QUARANTINE = "sources.quarantine"

CURSOR_SCHEMA = {"source": pl.Utf8, "object": pl.Utf8, "cursor": pl.Utf8, "run_id": pl.Utf8,
                 "updated_at": pl.Datetime("us", "UTC")}
QUARANTINE_SCHEMA = {"source": pl.Utf8, "table_name": pl.Utf8, "record_key": pl.Utf8,
                     "rule": pl.Utf8, "reason": pl.Utf8, "raw_record": pl.Utf8, "run_id": pl.Utf8,
                     "quarantined_at": pl.Datetime("us", "UTC")}


def utc_now() -> datetime:
    return datetime.now(UTC)


def latest_per_key(frame: pl.DataFrame, key: str, version: str | None) -> pl.DataFrame:
    """One row per key: the highest `version` (ISO strings sort in time order), else the last."""
    if version is not None:
        frame = frame.sort(version, nulls_last=False, maintain_order=True)
    return frame.unique(key, keep="last", maintain_order=True)


def land(wh: DuckDBWarehouse, table: str, frame: pl.DataFrame, key: str,
         version: str | None = None) -> int:
    """Upsert `frame` into `table` on `key`; returns the number of distinct records landed."""
    frame = apply_tombstones(wh, table, frame)  # erased people never come back
    batch = latest_per_key(frame, key, version)
    if batch.height == 0 and wh.exists(table):
        return 0
    if batch.height == 0:
        wh.write(table, batch)
        return 0
    add_new_columns(wh, table, batch)
    return wh.upsert(table, batch, [key])


def add_new_columns(wh: DuckDBWarehouse, table: str, batch: pl.DataFrame) -> list[str]:
    """Columns a mapping gained after `table` was created (e.g. `email_opt_out`) are added,
    empty for the rows landed before, so an existing warehouse keeps landing."""
    if not wh.exists(table):
        return []
    have = set(wh.query(f"select * from {table} limit 0").columns)
    added = [name for name in batch.columns if name not in have]
    for name in added:
        wh.execute(f'alter table {table} add column "{name}" {duckdb_type(batch.schema[name])}')
        logger.info("%s: added column %s", table, name)
    return added


class CursorStore:
    """High-water marks per (source, object), stored in the warehouse."""

    def __init__(self, wh: DuckDBWarehouse):
        self.wh = wh

    def get(self, source: str, obj: str) -> str | None:
        if not self.wh.exists(CURSORS):
            return None
        found = self.wh.query(f"select cursor from {CURSORS} where source = ? and object = ?",
                              [source, obj])
        return found["cursor"][0] if found.height else None

    def set(self, source: str, obj: str, cursor: str, run_id: str) -> None:
        row = pl.DataFrame([{"source": source, "object": obj, "cursor": cursor, "run_id": run_id,
                             "updated_at": utc_now()}], schema=CURSOR_SCHEMA)
        if not self.wh.exists(CURSORS):
            self.wh.write(CURSORS, row)
            return
        self.wh.delete_where(CURSORS, "source = ? and object = ?", [source, obj])
        self.wh.write(CURSORS, row, mode="append")


def log_extraction(wh: DuckDBWarehouse, entry: pl.DataFrame) -> None:
    """Append one extraction's figures (one typed row) to the extraction log."""
    wh.write(EXTRACTION_LOG, entry, mode="append")


def quarantine(wh: DuckDBWarehouse, source: str, table: str, bad: list[dict],
               run_id: str) -> int:
    """Append bad records ({record_key, rule, reason, raw}) to `sources.quarantine`."""
    if not bad:
        return 0
    now = utc_now()
    rows = [{"source": source, "table_name": table, "record_key": str(b.get("record_key")),
             "rule": b["rule"], "reason": b["reason"],
             "raw_record": json.dumps(b.get("raw"), default=str)[:20_000], "run_id": run_id,
             "quarantined_at": now} for b in bad]
    wh.write(QUARANTINE, pl.DataFrame(rows, schema=QUARANTINE_SCHEMA), mode="append")
    logger.warning("%s: quarantined %d bad %s records", source, len(rows), table)
    return len(rows)


def malformed_pages(source: str, bodies: list[dict]) -> list[dict]:
    """HTTP bodies that were not JSON -> quarantine entries (the page was fetched again)."""
    return [{"record_key": f"{b['path']} {b['params']}".strip(), "rule": "malformed_page",
             "reason": f"{b['reason']}; the page was requested again",
             "raw": b["body"]} for b in bodies]
