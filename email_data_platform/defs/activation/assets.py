"""Activation stage: the minimised ESP payload and the diff-based, resumable sync to Mailchimp."""

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import MailchimpResource
from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.observability.holds import refuse_sync_while_held
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.activation.stage import (
    MAILCHIMP_MAX_BATCH,
    SyncSettings,
    build_payload,
    receipts_this_run,
    sync_destination,
)
from email_data_platform.lib.markdown import frame_to_markdown

ESP_SYNC = dg.AssetKey(["activation", "esp_sync"])
SYNC_RECEIPTS = dg.AssetKey(["activation", "sync_receipts"])


class EspSyncConfig(dg.Config):
    dry_run: bool = False
    """Preview what would be sent and archived; nothing is sent and no state or table changes."""
    batch_size: int = MAILCHIMP_MAX_BATCH
    """Members per batch call (Mailchimp accepts at most 500)."""
    max_attempts: int = 3
    """Attempts per member the ESP rejects before the failure is recorded."""
    max_archive_fraction: float = 0.5
    """Refuse to archive more than this share of the list in one sync (guards broken upstreams)."""
    reconcile_with_esp: bool = True
    """List the ESP's members first and re-send ours that it no longer holds (costs one request
    per 1,000 members); turn off to trust the sync state alone."""


@dg.asset(
    key=["activation", "esp_payload"],
    group_name="activation",
    deps=[
        dg.AssetKey(["audiences", "marketable_audience"]),
        dg.AssetKey(["audiences", "customer_features"]), dg.AssetKey(["audiences", "segments"]),
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars", "mailchimp"},
    tags={"stage": "activation", "pii": "true"},
)
def esp_payload(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Exactly what Mailchimp receives for each marketable person, and nothing more: email,
    first and last name, lifetime value and segments (as merge fields FNAME, LNAME, LTV, SEGMENTS
    and as tags). Phone, address, birth date and internal scores never leave the warehouse.
    """
    payload = build_payload(warehouse.get(), destination="mailchimp")
    tag_counts = payload.select(pl.col("tags").list.len().alias("tags_per_member"))
    return dg.MaterializeResult(metadata=table_metadata(
        payload, counts_by(tag_counts, "tags_per_member"), destination="mailchimp",
        merge_fields="FNAME, LNAME, LTV, SEGMENTS",
        **{"dagster/column_lineage": _payload_lineage()},
    ))


@dg.multi_asset(
    name="activation__esp_sync",
    specs=[
        dg.AssetSpec(
            ESP_SYNC, deps=[esp_payload], group_name="activation", owners=OWNERS,
            kinds={"duckdb", "polars", "mailchimp"}, tags={"stage": "activation", "pii": "false"},
            description="One summary row per sync to Mailchimp: how many people were added or "
            "updated, archived (left the audience), left unchanged, or failed.",
        ),
        dg.AssetSpec(
            SYNC_RECEIPTS, deps=[esp_payload], group_name="activation", owners=OWNERS,
            kinds={"duckdb", "polars", "mailchimp"}, tags={"stage": "activation", "pii": "false"},
            description="A receipt per member per sync: upserted or archived, ok or failed (with "
            "the provider's reason), keyed by Mailchimp's subscriber hash, never by email.",
        ),
    ],
)
def esp_sync(
    context: dg.AssetExecutionContext, config: EspSyncConfig, warehouse: WarehouseResource,
    mailchimp: MailchimpResource,
):
    """Push the payload to Mailchimp: only new or changed members, in batches of up to 500;
    members who left the audience are archived. Progress is committed after every batch, so a
    crashed sync resumes where it stopped without sending anyone twice. Dry run previews only."""
    wh = warehouse.get()
    settings = SyncSettings(batch_size=config.batch_size, max_attempts=config.max_attempts,
                            max_archive_fraction=config.max_archive_fraction)
    if not config.dry_run:
        refuse_sync_while_held(wh)  # an unacknowledged anomaly hold stops every push
    client = mailchimp.client()
    try:
        outcome = sync_destination(wh, client, mailchimp.list_id, context.run_id, settings,
                                   dry_run=config.dry_run,
                                   reconcile_with_esp=config.reconcile_with_esp)
    finally:
        client.close()
    if outcome.refused and not outcome.dry_run:
        raise dg.Failure(description=outcome.refused, metadata=outcome.counts)
    yield from _sync_results(wh, context.run_id, outcome)


def _sync_results(wh, run_id: str, outcome):
    """The two assets' materialisations: counts (preview in a dry run) and this run's receipts."""
    if outcome.dry_run:
        yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata={
            **outcome.counts, "dry_run": True, "archive_guard": outcome.refused or "ok",
            "dagster/row_count": _rows(wh, "activation.esp_sync")})
        yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata={
            "dry_run": True, "dagster/row_count": _rows(wh, "activation.sync_receipts")})
        return
    metrics = {k: v for k, v in outcome.summary.row(0, named=True).items() if isinstance(v, int)}
    yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata=table_metadata(
        outcome.summary, **metrics, dry_run=False))
    this_run = receipts_this_run(wh, run_id)
    yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata={
        "dagster/row_count": _rows(wh, "activation.sync_receipts"),
        "receipts_this_run": int(this_run["rows"].sum()) if this_run.height else 0,
        "preview": dg.MetadataValue.md(
            frame_to_markdown(this_run) if this_run.height else "_no receipts this run_"),
    })


def _rows(wh, table: str) -> int:
    return wh.row_count(table) if wh.exists(table) else 0


def _payload_lineage() -> dg.TableColumnLineage:
    audience = dg.AssetKey(["audiences", "marketable_audience"])
    features = dg.AssetKey(["audiences", "customer_features"])
    segments = dg.AssetKey(["audiences", "segments"])
    return dg.TableColumnLineage(deps_by_column={
        "email": [dg.TableColumnDep(audience, "email")],
        "subscriber_hash": [dg.TableColumnDep(audience, "email")],
        "merge_fields": [dg.TableColumnDep(audience, "first_name"),
                         dg.TableColumnDep(audience, "last_name"),
                         dg.TableColumnDep(features, "lifetime_value"),
                         dg.TableColumnDep(segments, "segment")],
        "tags": [dg.TableColumnDep(segments, "segment")],
    })
