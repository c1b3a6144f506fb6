"""Salesforce extractions (Contacts, Opportunities) into the same raw tables as HubSpot's.

Large first loads run a Bulk API 2.0 query job (salesforce_bulk.py) instead of paging REST.
Rows carry `source = "salesforce"` and ids like `salesforce:003...`, so both CRMs share
`sources.crm_contacts` and `sources.crm_orders`. Modes follow `pulls.py`; because a SOQL result
is a snapshot sorted by SystemModstamp, the cursor is simply the newest stamp landed.
"""

from email_data_platform.lib.connectors.hubspot import to_ms
from email_data_platform.lib.connectors.salesforce import OBJECTS, SalesforceClient
from email_data_platform.lib.connectors.salesforce_bulk import bulk_query_frames
from email_data_platform.lib.sources.landing import CursorStore, land, utc_now
from email_data_platform.lib.sources.pulls import (
    CHUNK,
    DEFAULT_OVERLAP_S,
    Extraction,
    Window,
    batched,
    finish,
)
from email_data_platform.lib.sources.records import (
    salesforce_contacts_frame,
    salesforce_contacts_from_columns,
    salesforce_orders_frame,
    salesforce_orders_from_columns,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

TARGETS = {"contacts": ("sources.crm_contacts", "record_id", salesforce_contacts_frame),
           "opportunities": ("sources.crm_orders", "order_record_id", salesforce_orders_frame)}
BULK_FRAMES = {"contacts": salesforce_contacts_from_columns,
               "opportunities": salesforce_orders_from_columns}
# Below this REST pages of 2,000 are a few dozen requests; above it a bulk job is cheaper
# (and what Salesforce asks of large reads).
BULK_MIN_ROWS = 100_000


def extract_salesforce(wh: DuckDBWarehouse, client: SalesforceClient, object_type: str,
                       run_id: str, window: Window | None = None,
                       overlap_s: int = DEFAULT_OVERLAP_S, chunk_size: int = CHUNK,
                       bulk_min_rows: int = BULK_MIN_ROWS) -> Extraction:
    """Extract Salesforce Contacts or Opportunities (deleted ones flagged `archived`).

    A first (full) load of at least `bulk_min_rows` records runs a Bulk API 2.0 query job;
    smaller ones, incremental runs and backfill windows use REST `queryAll`.
    """
    table, key, to_frame = TARGETS[object_type]
    cursors = CursorStore(wh)
    run = Extraction("salesforce", object_type, table, run_id,
                     cursor_before=cursors.get("salesforce", object_type))
    run.source_total = client.count(object_type)
    if window is not None:
        run.mode, since, until = "window", window.start_ms, window.end_ms
    elif run.cursor_before is None:
        run.mode, since, until = "full", None, None
    else:
        run.mode, until = "incremental", None
        since = to_ms(_iso(run.cursor_before)) - overlap_s * 1000
    committed = run.cursor_before
    if run.mode == "full" and (run.source_total or 0) >= bulk_min_rows:
        run.cursor_after = _bulk_load(wh, client, object_type, run)
        finish(wh, run, client.http, list(client.bad_records), client.pages,
               ("object_id", "updated_at", "source = 'salesforce' and not archived"))
        client.bad_records.clear()
        return run
    for batch in batched(client.iter_modified(object_type, since, until), chunk_size):
        frame = to_frame(batch, run_id, utc_now())
        run.rows_fetched += len(batch)
        run.rows_landed += land(wh, table, frame, key, "updated_at")
        newest = frame["updated_at"].max()
        if run.mode != "window" and newest and not client.bad_records:
            committed = max(committed or newest, newest)
            cursors.set("salesforce", object_type, committed, run_id)
    run.cursor_after = committed
    finish(wh, run, client.http, list(client.bad_records), client.pages,
           ("object_id", "updated_at", "source = 'salesforce' and not archived"))
    client.bad_records.clear()
    return run


def _bulk_load(wh: DuckDBWarehouse, client: SalesforceClient, object_type: str,
               run: Extraction) -> str | None:
    """Land a full load from a Bulk API 2.0 job; return the cursor (the newest stamp landed,
    or the previous cursor when a record broke the contract, so it is read again)."""
    table, key, _ = TARGETS[object_type]
    sobject, fields = OBJECTS[object_type]
    newest = None
    for page in bulk_query_frames(client, f"SELECT {', '.join(fields)} FROM {sobject}"):
        valid = page["Id"].str.len_chars().is_in([15, 18]).fill_null(False)
        for row in page.filter(~valid).to_dicts():
            client.bad_records.append({"object": object_type, "record_key": str(row["Id"]),
                                       "rule": "missing_id",
                                       "reason": "record Id is missing or malformed",
                                       "raw": row})
        frame = BULK_FRAMES[object_type](page.filter(valid), run.run_id, utc_now())
        run.rows_fetched += page.height
        run.rows_landed += land(wh, table, frame, key, "updated_at")
        page_newest = frame["updated_at"].max()
        if page_newest is not None:
            newest = max(newest or page_newest, page_newest)
    return run.cursor_before if client.bad_records else newest


def _iso(salesforce_time: str) -> str:
    """`2024-01-15T10:20:30.000+0000` -> `2024-01-15T10:20:30.000+00:00` (ISO 8601)."""
    if len(salesforce_time) > 5 and salesforce_time[-5] in "+-" and ":" not in salesforce_time[-5:]:
        return f"{salesforce_time[:-2]}:{salesforce_time[-2:]}"
    return salesforce_time
