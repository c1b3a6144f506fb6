"""HubSpot subscription statuses into `sources.crm_subscriptions`, one row per (address, type).

Whose statuses are read: the HubSpot contacts landed since the last read (by `extracted_at`,
kept as this pull's cursor); every contact on the first read. That is complete because HubSpot
moves a contact's `lastmodifieddate` when one of its subscription statuses changes (the
per-type opt-out property changes), so the contacts pull has landed it again. A backfill window
re-reads the contacts modified in that window and leaves the cursor alone.
"""

import polars as pl

from email_data_platform.lib.connectors.hubspot import HubSpotClient
from email_data_platform.lib.connectors.hubspot_subscriptions import (
    iter_subscription_statuses,
    subscription_definitions,
)
from email_data_platform.lib.privacy.subjects import subscriber_hash
from email_data_platform.lib.sources.landing import CursorStore, land, utc_now
from email_data_platform.lib.sources.pulls import Extraction, Window, batched, finish
from email_data_platform.lib.warehouse import DuckDBWarehouse

TABLE = "sources.crm_subscriptions"
CONTACTS = "sources.crm_contacts"
# The row key is built from the address's md5 (`subscriber_hash`, as the ESPs key members), not
# from the address: anonymisation blanks `email`, and erasure finds the row by either.
SCHEMA = {"status_key": pl.Utf8, "subscriber_hash": pl.Utf8, "source": pl.Utf8, "email": pl.Utf8,
          "subscription_id": pl.Utf8, "subscription_name": pl.Utf8, "status": pl.Utf8,
          "status_source": pl.Utf8, "legal_basis": pl.Utf8, "occurred_at": pl.Utf8,
          "extracted_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8}
ADDRESSES_PER_BATCH = 5_000  # addresses whose statuses land (and commit) together


def addresses_to_read(wh: DuckDBWarehouse, since: str | None,
                      window: Window | None) -> tuple[list[str], str | None]:
    """(addresses of live HubSpot contacts landed after `since`, or modified in `window`;
    the newest `extracted_at` among them, as the next cursor)."""
    if not wh.exists(CONTACTS):
        return [], since
    contacts = wh.query(f"select email, updated_at, extracted_at from {CONTACTS} "
                        "where source = 'hubspot' and not archived and email is not null")
    stamp = pl.col("extracted_at").cast(pl.Datetime("us", "UTC"))
    if window is not None:
        modified = pl.col("updated_at").str.to_datetime(time_zone="UTC", strict=False,
                                                        time_unit="ms").dt.epoch("ms")
        contacts = contacts.filter(modified.is_between(window.start_ms, window.end_ms,
                                                       closed="left"))
    elif since is not None:
        contacts = contacts.filter(stamp > pl.lit(since).str.to_datetime(time_zone="UTC"))
    newest = contacts.select(stamp.max()).item()
    emails = contacts["email"].str.strip_chars().unique(maintain_order=True)
    return emails.filter(emails.str.contains("@")).to_list(), (
        newest.isoformat() if newest is not None else since)


def statuses_frame(statuses: list[dict], names: dict[str, str], run_id: str) -> pl.DataFrame:
    """Status objects -> `sources.crm_subscriptions` rows (text as HubSpot sent it)."""
    rows = [{
        "email": str(s.get("subscriberIdString") or "").strip(),
        "subscriber_hash": subscriber_hash(str(s.get("subscriberIdString") or "")),
        "subscription_id": str(s["subscriptionId"]).strip(),
        "subscription_name": s.get("subscriptionName") or names.get(
            str(s["subscriptionId"]).strip()),
        "status": s["status"], "status_source": s.get("source"),
        "legal_basis": s.get("legalBasis"), "occurred_at": s.get("timestamp"),
    } for s in statuses]
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in SCHEMA if c not in (
        "status_key", "source", "extracted_at", "run_id")})
    return frame.with_columns(
        status_key=pl.concat_str("subscriber_hash", pl.lit("|"), "subscription_id"),
        source=pl.lit("hubspot"), extracted_at=pl.lit(utc_now(), SCHEMA["extracted_at"]),
        run_id=pl.lit(run_id)).select(list(SCHEMA))


def ensure_subscriptions_table(wh: DuckDBWarehouse) -> None:
    """An empty table when nothing landed, so downstream always has one to read."""
    if not wh.exists(TABLE):
        wh.write(TABLE, pl.DataFrame(schema=SCHEMA))


def extract_hubspot_subscriptions(wh: DuckDBWarehouse, client: HubSpotClient, run_id: str,
                                  window: Window | None = None) -> Extraction:
    """Read and land the subscription statuses of the contacts landed since the last read."""
    cursors = CursorStore(wh)
    run = Extraction("hubspot", "subscriptions", TABLE, run_id,
                     cursor_before=cursors.get("hubspot", "subscriptions"))
    run.mode = "window" if window else ("incremental" if run.cursor_before else "full")
    emails, newest = addresses_to_read(wh, run.cursor_before, window)
    names = subscription_definitions(client) if emails else {}
    for batch in batched(emails, ADDRESSES_PER_BATCH):
        statuses = list(iter_subscription_statuses(client, batch))
        frame = statuses_frame(statuses, names, run_id)
        run.rows_fetched += frame.height
        run.rows_landed += land(wh, TABLE, frame, "status_key", "occurred_at")
    ensure_subscriptions_table(wh)
    # a status that broke the contract is read again next time: the cursor stays
    if window is None and not client.bad_records:
        run.cursor_after = newest
    else:
        run.cursor_after = run.cursor_before
    finish(wh, run, client.http, list(client.bad_records), client.pages,
           ("status_key", "occurred_at", "true"))
    client.bad_records.clear()
    return run
