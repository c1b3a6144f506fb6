"""One extraction per source object: choose full, incremental or window mode, land, log.

- full: no cursor yet. Everything is listed; the cursor becomes the listing's start time, so
  anything modified while we were listing is read again next time.
- incremental: records modified since the cursor (minus an overlap, de-duplicated on landing).
  Batches land in ascending modification order and the cursor follows each landed batch, so a
  crash resumes where the last committed batch ended.
- window: a backfill of one time range (a daily partition); the cursor is left alone.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

import polars as pl

from email_data_platform.lib.connectors.checksum import record_checksum
from email_data_platform.lib.connectors.http import HttpClient
from email_data_platform.lib.connectors.hubspot import (
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    HubSpotClient,
    from_ms,
    to_ms,
)
from email_data_platform.lib.sources.landing import (
    CursorStore,
    land,
    log_extraction,
    malformed_pages,
    quarantine,
    utc_now,
)
from email_data_platform.lib.sources.records import (
    consent_schema,
    contacts_frame,
    contacts_from_columns,
    contacts_schema,
    deal_contact_ids,
    esp_events_schema,
    orders_frame,
    orders_from_columns,
    orders_schema,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

logger = logging.getLogger(__name__)

CHUNK = 20_000
# Below this a full listing takes a few hundred requests: paging is simpler than an export
# (HubSpot allows 30 exports a day, one at a time).
EXPORT_MIN_ROWS = 100_000
# Export batches are polars frames (no per-record Python objects): larger batches, fewer
# upserts scanning the growing table.
EXPORT_BATCH = 250_000
TABLE_SCHEMAS = {"sources.crm_contacts": contacts_schema, "sources.crm_orders": orders_schema,
                 "sources.esp_events": esp_events_schema, "sources.consent_raw": consent_schema}
DEFAULT_OVERLAP_S = 60


@dataclass(frozen=True)
class Window:
    """A backfill range [start_ms, end_ms) of modification times."""

    start_ms: int
    end_ms: int


@dataclass
class Extraction:
    """What one extraction did; flattened into `sources.extraction_log` and asset metadata."""

    source: str
    object: str
    table: str
    run_id: str
    mode: str = "full"
    cursor_before: str | None = None
    cursor_after: str | None = None
    rows_fetched: int = 0
    rows_landed: int = 0
    quarantined: int = 0
    source_total: int | None = None
    table_rows: int = 0
    table_active_rows: int = 0
    table_checksum: str = ""
    pages: int = 0
    http: dict = field(default_factory=dict)

    def log_row(self) -> dict:
        row = {k: v for k, v in asdict(self).items() if k != "http"}
        row.update({k: self.http.get(k, 0) for k in ("requests", "retries", "throttles",
                                                     "server_errors", "dropped_connections",
                                                     "malformed_pages", "token_refreshes")})
        row["logged_at"] = utc_now()
        return row


LOG_SCHEMA = {
    **dict.fromkeys(("source", "object", "table", "run_id", "mode", "cursor_before",
                     "cursor_after", "table_checksum"), pl.Utf8),
    **dict.fromkeys(("rows_fetched", "rows_landed", "quarantined", "source_total", "table_rows",
                     "table_active_rows", "pages", "requests", "retries", "throttles",
                     "server_errors", "dropped_connections", "malformed_pages",
                     "token_refreshes"), pl.Int64),
    "logged_at": pl.Datetime("us", "UTC"),
}


def batched(records: Iterable, size: int) -> Iterator[list]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _table_figures(wh: DuckDBWarehouse, run: Extraction, key: str, version: str,
                   where: str) -> None:
    """Rows, active rows and checksum of the landed table, for reconciliation."""
    if not wh.exists(run.table):
        return
    active = wh.query(f"select {key}, {version} from {run.table} where {where}")
    run.table_rows = wh.row_count(run.table)
    run.table_active_rows = active.height
    run.table_checksum = record_checksum(active[key], active[version])


def finish(wh: DuckDBWarehouse, run: Extraction, http: HttpClient, bad: list[dict], pages: int,
           figures: tuple[str, str, str] = ("object_id", "updated_at", "not archived")) -> None:
    """Store the cursor (if it moved), quarantine bad records, log the extraction."""
    if not wh.exists(run.table):  # an empty source still gives downstream an (empty) table
        wh.write(run.table, pl.DataFrame(schema=TABLE_SCHEMAS[run.table]()))
    if run.cursor_after and run.cursor_after != run.cursor_before:
        CursorStore(wh).set(run.source, run.object, run.cursor_after, run.run_id)
    bad = bad + malformed_pages(run.source, http.stats.malformed_bodies)
    http.stats.malformed_bodies.clear()
    run.quarantined = quarantine(wh, run.source, run.table, bad, run.run_id)
    _table_figures(wh, run, *figures)
    run.pages, run.http = pages, http.stats.as_metadata()
    log_extraction(wh, pl.DataFrame([run.log_row()], schema=LOG_SCHEMA))
    logger.info("%s %s: %s extraction landed %d of %d fetched", run.source, run.object,
                run.mode, run.rows_landed, run.rows_fetched)


def extract_hubspot(wh: DuckDBWarehouse, client: HubSpotClient, object_type: str, run_id: str,
                    window: Window | None = None, overlap_s: int = DEFAULT_OVERLAP_S,
                    chunk_size: int = CHUNK, export_min_rows: int = EXPORT_MIN_ROWS
                    ) -> Extraction:
    """Extract HubSpot contacts or deals into `sources.crm_contacts` / `sources.crm_orders`.

    A first (full) load of at least `export_min_rows` live records reads a CRM export, landed
    batch by batch; smaller ones, incremental runs and backfill windows page the REST API.
    A record that breaks the contract is quarantined and holds the cursor where it was, so
    the next run reads it again (nothing fetched is lost; the good records land now).
    """
    table = HUBSPOT_TABLES[object_type]
    cursors = CursorStore(wh)
    run = Extraction("hubspot", object_type, table, run_id,
                     cursor_before=cursors.get("hubspot", object_type))
    started_ms = int(utc_now().timestamp() * 1000)
    run.source_total = client.count(object_type)
    live, archived = _hubspot_streams(client, object_type, run, window, overlap_s, started_ms)
    committed = run.cursor_before  # the cursor only follows batches landed before any bad record
    if run.mode == "full" and (run.source_total or 0) >= export_min_rows:
        associated = "CONTACT" if object_type == "deals" else None
        for frame in client.export_objects(object_type, _properties(object_type),
                                           associated=associated,
                                           batch_rows=max(chunk_size, EXPORT_BATCH)):
            _land_export(wh, object_type, frame, run)
        live = iter(())
    for batch in batched(live, chunk_size):
        newest = _land_hubspot(wh, client, object_type, batch, run, listed=run.mode == "full")
        if run.mode == "incremental" and newest and not client.bad_records:
            committed = max(committed or newest, newest)
            cursors.set("hubspot", object_type, committed, run_id)
    for batch in batched(archived, chunk_size):
        _land_hubspot(wh, client, object_type, batch, run, listed=True)
    if run.mode == "full" and not client.bad_records:
        committed = from_ms(started_ms)
    run.cursor_after = committed if run.mode != "window" else run.cursor_before
    finish(wh, run, client.http, list(client.bad_records), client.pages,
           ("object_id", "updated_at", "source = 'hubspot' and not archived"))
    client.bad_records.clear()
    return run


HUBSPOT_TABLES = {"contacts": "sources.crm_contacts", "deals": "sources.crm_orders"}
HUBSPOT_KEYS = {"contacts": "record_id", "deals": "order_record_id"}


def _hubspot_streams(client: HubSpotClient, object_type: str, run: Extraction,
                     window: Window | None, overlap_s: int, started_ms: int):
    """(live records, archived records) for the run's mode; sets `run.mode`."""
    associations = "contacts" if object_type == "deals" else None
    archived = client.iter_objects(object_type, _properties(object_type), archived=True,
                                   associations=associations)
    if window is not None:
        run.mode = "window"
        live = client.search_modified_since(object_type, window.start_ms, window.end_ms)
        return live, (a for a in archived if _in_window(a, window.start_ms, window.end_ms))
    if run.cursor_before is None:
        run.mode = "full"
        return client.iter_objects(object_type, _properties(object_type),
                                   associations=associations), archived
    run.mode = "incremental"
    since = to_ms(run.cursor_before) - overlap_s * 1000
    live = client.search_modified_since(object_type, since, started_ms + 1)
    return live, (a for a in archived if _in_window(a, since, None))


def _land_hubspot(wh: DuckDBWarehouse, client: HubSpotClient, object_type: str,
                  batch: list[dict], run: Extraction, listed: bool) -> str | None:
    """Land one batch; return the newest modification time in it."""
    frame = _frame(client, object_type, batch, run.run_id, listed)
    run.rows_fetched += len(batch)
    run.rows_landed += land(wh, run.table, frame, HUBSPOT_KEYS[object_type], "updated_at")
    return frame["updated_at"].max()


def _land_export(wh: DuckDBWarehouse, object_type: str, frame: pl.DataFrame,
                 run: Extraction) -> None:
    """Land one batch of an export (Utf8 columns named by HubSpot property)."""
    raw = frame.rename({"id": "object_id"}).with_columns(pl.lit(False).alias("archived"))
    if object_type == "contacts":
        rows = contacts_from_columns(raw, run.run_id, utc_now())
    else:
        contact = pl.col("contact_ids").str.split(";").list.first().str.strip_chars()
        raw = raw.with_columns((contact if "contact_ids" in raw.columns
                                else pl.lit(None, pl.Utf8)).alias("contact_id"))
        rows = orders_from_columns(raw, run.run_id, utc_now())
    run.rows_fetched += rows.height
    run.rows_landed += land(wh, run.table, rows, HUBSPOT_KEYS[object_type], "updated_at")


def _properties(object_type: str) -> tuple[str, ...]:
    return CONTACT_PROPERTIES if object_type == "contacts" else DEAL_PROPERTIES


def _in_window(record: dict, start_ms: int, end_ms: int | None) -> bool:
    stamp = record.get("archivedAt") or record.get("updatedAt")
    if not stamp:
        return True
    at = to_ms(stamp)
    return at >= start_ms and (end_ms is None or at < end_ms)


def _frame(client: HubSpotClient, object_type: str, batch: list[dict], run_id: str,
           listed: bool) -> pl.DataFrame:
    extracted_at = utc_now()
    if object_type == "contacts":
        return contacts_frame(batch, run_id, extracted_at)
    # Listings carry associations inline; search results need a batch association read.
    contact_ids = (deal_contact_ids(batch) if listed
                   else client.deal_contact_ids([d["id"] for d in batch]))
    return orders_frame(batch, contact_ids, run_id, extracted_at)
