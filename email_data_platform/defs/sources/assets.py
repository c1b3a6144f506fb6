"""The sources stage: raw CRM, ESP and consent data, pulled over the vendors' APIs (or, for the
CRMs, read from the tables Fivetran or Airbyte landed: defs/sources/resources.py).

Materialised without a partition, each asset pulls what changed since its cursor (the first run
lists everything). Materialised for a daily partition (or a range, in one run), it re-pulls
records modified in those days without moving the cursor: that is how a backfill works.
"""

import warnings

import dagster as dg

from email_data_platform.defs.connections import (
    ConsentFeedResource,
    HubSpotResource,
    MailchimpResource,
    SalesforceResource,
    SendGridResource,
)
from email_data_platform.defs.metadata import OWNERS, table_schema
from email_data_platform.defs.pools import pool_for
from email_data_platform.defs.sources.resources import CrmSourcesResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.sources.elt import extract_elt
from email_data_platform.lib.sources.stage import (
    Extraction,
    Window,
    ensure_subscriptions_table,
    extract_consent,
    extract_esp_events,
    extract_hubspot,
    extract_hubspot_subscriptions,
    extract_salesforce,
    extract_sendgrid_events,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

SOURCES_DAILY = dg.DailyPartitionsDefinition(start_date="2020-01-01", end_offset=1)
COMMON = {"group_name": "sources", "owners": OWNERS, "partitions_def": SOURCES_DAILY}


def sources_asset(**kwargs):
    """`dg.asset` with the stage's common settings.

    A backfill of many days runs as one run over the whole range (one search per source, not
    one per day); the policy is flagged beta in dagster 1.13, so its warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(**COMMON, backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)


class ExtractionConfig(dg.Config):
    overlap_seconds: int = 60  # re-read this much before the cursor; duplicates collapse on id
    chunk_size: int = 20_000  # records landed (and committed) per batch


def window_of(context: dg.AssetExecutionContext) -> Window | None:
    """The partition (or partition range) being backfilled, or None for a cursor-driven run."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    span = context.partition_time_window
    return Window(int(span.start.timestamp() * 1000), int(span.end.timestamp() * 1000))


def _preview(wh: DuckDBWarehouse, table: str, group_by: str) -> str:
    """Counts by a non-identifying column: a preview that shows shape, never a person."""
    counts = wh.query(f"select coalesce(cast({group_by} as varchar), '(null)') as {group_by}, "
                      f"count(*) as n from {table} group by 1 order by n desc limit 10")
    lines = [f"| {group_by} | rows |", "|---|---|"]
    lines += [f"| {r[group_by]} | {r['n']} |" for r in counts.to_dicts()]
    return "\n".join(lines)


def materialize_result(wh: DuckDBWarehouse, runs: list[Extraction],
                       group_by: str) -> dg.MaterializeResult:
    """Row count, schema and preview of the table, plus each extraction's figures by source."""
    table = runs[0].table
    metadata = {
        "dagster/row_count": wh.row_count(table),
        "dagster/column_schema": table_schema(wh.query(f"select * from {table} limit 0")),
        "preview": dg.MetadataValue.md(_preview(wh, table, group_by)),
    }
    for run in runs:
        prefix = "" if len(runs) == 1 else f"{run.source}_"
        metadata.update({
            f"{prefix}mode": run.mode,
            f"{prefix}rows_fetched": run.rows_fetched,
            f"{prefix}rows_landed": run.rows_landed,
            f"{prefix}quarantined": run.quarantined,
            f"{prefix}source_total": run.source_total if run.source_total is not None else -1,
            f"{prefix}active_rows": run.table_active_rows,
            f"{prefix}checksum": run.table_checksum,
            f"{prefix}cursor_before": run.cursor_before or "",
            f"{prefix}cursor_after": run.cursor_after or "",
            f"{prefix}pages": run.pages,
            **{f"{prefix}http_{k}": v for k, v in run.http.items()},
        })
    return dg.MaterializeResult(metadata=metadata)


def _crm_runs(context: dg.AssetExecutionContext, config: ExtractionConfig,
              wh: DuckDBWarehouse, crm_sources: CrmSourcesResource, hubspot: HubSpotResource,
              salesforce: SalesforceResource, obj: str) -> list[Extraction]:
    """HubSpot first, then Salesforce, into the same table: each from its API or from the
    tables an ELT tool landed in the warehouse, as `crm_sources` says (EDP_*_SOURCE)."""
    window = window_of(context)
    runs = []
    for vendor, resource, extract, api_object in (
            ("hubspot", hubspot, extract_hubspot, {"contacts": "contacts", "orders": "deals"}),
            ("salesforce", salesforce, extract_salesforce,
             {"contacts": "contacts", "orders": "opportunities"})):
        table = crm_sources.table(vendor, obj)
        if table is not None:
            context.log.info("%s %s: reading %s's %s (no API call)", vendor, obj, table.tool,
                             table.table)
            runs.append(extract_elt(wh, table, context.run_id, window, config.chunk_size,
                                    config.overlap_seconds))
            continue
        client = resource.client()
        try:
            runs.append(extract(wh, client, api_object[obj], context.run_id, window,
                                config.overlap_seconds, config.chunk_size))
        finally:
            client.close()
    return runs


def _crm_result(wh: DuckDBWarehouse, crm_sources: CrmSourcesResource, runs: list[Extraction],
                group_by: str) -> dg.MaterializeResult:
    """`materialize_result` plus where each CRM's rows came from (`api`, `fivetran`, ...)."""
    result = materialize_result(wh, runs, group_by)
    via = {f"{run.source}_via": crm_sources.tool(run.source) for run in runs}
    return dg.MaterializeResult(metadata={**result.metadata, **via})


@sources_asset(key=["sources", "crm_contacts"], kinds={"hubspot", "salesforce", "duckdb"},
               tags={"stage": "sources", "pii": "true"}, pool=pool_for("hubspot", "salesforce"))
def crm_contacts(context: dg.AssetExecutionContext, config: ExtractionConfig,
                 warehouse: WarehouseResource, crm_sources: CrmSourcesResource,
                 hubspot: HubSpotResource, salesforce: SalesforceResource
                 ) -> dg.MaterializeResult:
    """Every contact in our CRMs (HubSpot and Salesforce), exactly as each CRM holds it: names,
    email, phone, birth date, address, company. One row per CRM record with its latest version;
    records deleted in a CRM stay, flagged `archived`, so downstream stages can forget them.
    Read from each CRM's API, or from a Fivetran/Airbyte copy (EDP_HUBSPOT_SOURCE,
    EDP_SALESFORCE_SOURCE)."""
    wh = warehouse.get()
    runs = _crm_runs(context, config, wh, crm_sources, hubspot, salesforce, "contacts")
    return _crm_result(wh, crm_sources, runs, "source")


# Not partitioned: a status is the address's current one, whichever day its contact changed.
@dg.asset(key=["sources", "crm_subscriptions"], group_name="sources", owners=OWNERS,
          kinds={"hubspot", "duckdb"}, tags={"stage": "sources", "pii": "true"},
          pool=pool_for("hubspot"), deps=[crm_contacts])
def crm_subscriptions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      crm_sources: CrmSourcesResource,
                      hubspot: HubSpotResource) -> dg.MaterializeResult:
    """Which HubSpot subscription types (newsletter, offers, marketing information...) each
    address joined or left, with when and on what legal basis: one row per address and type,
    latest status. Leaving a type withdraws the purpose or topic it stands for (the consent
    taxonomy maps names). Read over HubSpot's API for the contacts that changed since the last
    read; when HubSpot contacts come from an ELT tool, nothing is read here."""
    wh = warehouse.get()
    if crm_sources.table("hubspot", "contacts") is not None:
        context.log.warning("hubspot subscription statuses are read over the API only; "
                            "HubSpot contacts come from %s", crm_sources.tool("hubspot"))
        ensure_subscriptions_table(wh)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": wh.row_count("sources.crm_subscriptions"), "mode": "skipped"})
    client = hubspot.client()
    try:
        run = extract_hubspot_subscriptions(wh, client, context.run_id)
    finally:
        client.close()
    return materialize_result(wh, [run], "status")


@sources_asset(key=["sources", "crm_orders"], kinds={"hubspot", "salesforce", "duckdb"},
               tags={"stage": "sources", "pii": "false"}, pool=pool_for("hubspot", "salesforce"))
def crm_orders(context: dg.AssetExecutionContext, config: ExtractionConfig,
               warehouse: WarehouseResource, crm_sources: CrmSourcesResource,
               hubspot: HubSpotResource, salesforce: SalesforceResource) -> dg.MaterializeResult:
    """Every order (a HubSpot deal or a Salesforce opportunity) with its amount, currency, date,
    status and the contact who placed it. Feeds lifetime value and recency. One row per order,
    latest version. Read from each CRM's API, or from a Fivetran/Airbyte copy."""
    wh = warehouse.get()
    runs = _crm_runs(context, config, wh, crm_sources, hubspot, salesforce, "orders")
    return _crm_result(wh, crm_sources, runs, "status")


@sources_asset(key=["sources", "esp_events"], kinds={"mailchimp", "sendgrid", "duckdb"},
               tags={"stage": "sources", "pii": "true"}, pool=pool_for("mailchimp", "sendgrid"))
def esp_events(context: dg.AssetExecutionContext, config: ExtractionConfig,
               warehouse: WarehouseResource, mailchimp: MailchimpResource,
               sendgrid: SendGridResource) -> dg.MaterializeResult:
    """How people reacted to our emails: opens, clicks, bounces, unsubscribes and spam
    complaints from Mailchimp campaign reports, and bounces, unsubscribes and spam reports from
    SendGrid's suppression lists. Drives engagement scores and suppression (a bounced,
    unsubscribed or complaining address is never emailed again)."""
    wh, window = warehouse.get(), window_of(context)
    chimp, grid = mailchimp.client(), sendgrid.client()
    try:
        runs = [extract_esp_events(wh, chimp, mailchimp.list_id, context.run_id, window,
                                   config.overlap_seconds),
                extract_sendgrid_events(wh, grid, context.run_id, window, config.overlap_seconds)]
    finally:
        chimp.close()
        grid.close()
    return materialize_result(wh, runs, "event_type")


@sources_asset(key=["sources", "consent_raw"], kinds={"api", "duckdb", "polars"},
               tags={"stage": "sources", "pii": "true"}, pool=pool_for("consent_feed"))
def consent_raw(context: dg.AssetExecutionContext, config: ExtractionConfig,
                warehouse: WarehouseResource,
                consent_feed: ConsentFeedResource) -> dg.MaterializeResult:
    """Every consent decision people made (granted or withdrawn, per purpose such as email
    marketing), as recorded by the consent-management platform, with channel and policy
    version. The legal basis for every email the platform sends."""
    wh, client = warehouse.get(), consent_feed.client()
    try:
        run = extract_consent(wh, client, context.run_id, window_of(context),
                              config.overlap_seconds)
    finally:
        client.close()
    return materialize_result(wh, [run], "purpose")
