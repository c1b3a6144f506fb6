"""Activation stage: the minimised ESP payload and the diff-based, resumable sync to Mailchimp."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import MailchimpResource
from email_data_platform.defs.privacy.metadata import counts_by, table_metadata
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.payload import build_esp_payload
from email_data_platform.lib.privacy.stage import AuditEntry, append_audit_entries
from email_data_platform.lib.sync import (
    MAILCHIMP_MAX_BATCH,
    MassArchiveError,
    SyncPlan,
    SyncSettings,
    execute_sync,
    forget_members_missing_at_esp,
    plan_sync,
)
from email_data_platform.lib.sync_store import WarehouseSyncStore, append_rows

OWNERS = ["team:data-platform"]
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
    wh = warehouse.get()
    payload = build_esp_payload(
        wh.read("audiences.marketable_audience"), wh.read("audiences.customer_features"),
        wh.read("audiences.segments"), destination="mailchimp",
    )
    wh.write("activation.esp_payload", payload)
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
    store = WarehouseSyncStore(wh, mailchimp.list_id)
    client = mailchimp.client()
    try:
        state, forgotten = store.load_state(), 0
        if config.reconcile_with_esp:
            esp_ids = [m["id"] for m in client.iter_members(mailchimp.list_id)]
            state, forgotten = forget_members_missing_at_esp(state, esp_ids)
        plan = plan_sync(wh.read("activation.esp_payload"), state)
        counts = {**plan.counts(), "missing_at_esp_resent": forgotten}
        context.log.info("esp sync plan: %s (dry run: %s)", counts, config.dry_run)
        guard_error = _archive_guard_error(plan, settings)
        if config.dry_run:
            preview = {**counts, "dry_run": True, "archive_guard": guard_error or "ok",
                       "dagster/row_count": _rows(wh, "activation.esp_sync")}
            yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata=preview)
            yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata={
                "dry_run": True, "dagster/row_count": _rows(wh, "activation.sync_receipts")})
            return
        if guard_error:
            append_audit_entries(wh, [AuditEntry("esp sync refused", "activation.esp_sync",
                                                 counts)], run_id=context.run_id)
            raise dg.Failure(description=guard_error, metadata=counts)
        summary = _push(context, wh, client, mailchimp.list_id, plan, store, settings, counts)
    finally:
        client.close()
    metrics = {k: v for k, v in summary.row(0, named=True).items() if isinstance(v, int)}
    yield dg.MaterializeResult(asset_key=ESP_SYNC, metadata=table_metadata(
        summary, **metrics, dry_run=False))
    yield dg.MaterializeResult(asset_key=SYNC_RECEIPTS, metadata=_receipts_metadata(
        wh, context.run_id))


def _push(context: dg.AssetExecutionContext, wh, client, list_id: str, plan: SyncPlan,
          store: WarehouseSyncStore, settings: SyncSettings, counts: dict) -> pl.DataFrame:
    """Execute the plan, then record the run's summary row and an audit entry."""
    started_at = datetime.now(UTC)
    summary = execute_sync(client, list_id, plan, store.commit_batch, context.run_id, settings)
    row = pl.DataFrame([{"run_id": context.run_id, "list_id": list_id, "started_at": started_at,
                         "finished_at": datetime.now(UTC), **counts, **summary.as_dict()}])
    append_rows(wh, "activation.esp_sync", row)
    append_audit_entries(wh, [AuditEntry("esp sync", "activation.esp_sync",
                                         {"destination": "mailchimp", **summary.as_dict()})],
                         run_id=context.run_id)
    return row


def _rows(wh, table: str) -> int:
    return wh.row_count(table) if wh.exists(table) else 0


def _receipts_metadata(wh, run_id: str) -> dict:
    if not wh.exists("activation.sync_receipts"):
        return {"dagster/row_count": 0, "receipts_this_run": 0}
    this_run = wh.query("select action, status, count(*) as rows from activation.sync_receipts"
                        " where run_id = ? group by all order by all", [run_id])
    return {
        "dagster/row_count": wh.row_count("activation.sync_receipts"),
        "receipts_this_run": int(this_run["rows"].sum()) if this_run.height else 0,
        "preview": dg.MetadataValue.md(
            frame_to_markdown(this_run) if this_run.height else "_no receipts this run_"),
    }


def _archive_guard_error(plan: SyncPlan, settings: SyncSettings) -> str | None:
    try:
        plan.check_archive_guard(settings)
    except MassArchiveError as error:
        return str(error)
    return None


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
