"""Checks on the raw tables: one row per record, and agreement with what each source reported."""

import polars as pl

from email_data_platform.lib.sources.landing import EXTRACTION_LOG
from email_data_platform.lib.warehouse import DuckDBWarehouse


def duplicate_keys(wh: DuckDBWarehouse, table: str, key: str) -> int:
    """How many rows repeat a key that must be unique (0 when every record landed once)."""
    found = wh.query(f"select count(*) - count(distinct {key}) as n from {table}")
    return int(found["n"][0])


def latest_extractions(wh: DuckDBWarehouse, table: str) -> pl.DataFrame:
    """The last logged extraction per (source, object) that landed into `table`."""
    if not wh.exists(EXTRACTION_LOG):
        return pl.DataFrame()
    return wh.query(
        f"select * from {EXTRACTION_LOG} where \"table\" = ? "
        "qualify row_number() over (partition by source, object order by logged_at desc) = 1",
        [table])


def source_total_mismatches(wh: DuckDBWarehouse, table: str) -> list[dict]:
    """Sources whose reported total differs from the live rows we hold for them.

    Only extractions whose source reported its whole size are compared (not backfill windows).
    """
    latest = latest_extractions(wh, table)
    if latest.is_empty():
        return []
    whole_source_count = pl.col("object").is_in(["contacts", "deals", "opportunities"]) & (
        pl.col("mode").is_in(["full", "incremental"]))
    # the consent feed reports the size of the window asked for: only a full read is the total
    full_feed = (pl.col("object") == "consent_events") & (pl.col("mode") == "full")
    comparable = latest.filter(pl.col("source_total").is_not_null()
                               & (whole_source_count | full_feed))
    return [
        {"source": r["source"], "object": r["object"], "source_total": r["source_total"],
         "warehouse_rows": r["table_active_rows"]}
        for r in comparable.to_dicts() if r["source_total"] != r["table_active_rows"]
    ]
