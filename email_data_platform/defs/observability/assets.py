"""Reconciliation: the proof that source, warehouse and ESP hold the same people."""

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import MailchimpResource
from email_data_platform.defs.metadata import OWNERS
from email_data_platform.defs.pools import pool_for
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.observability import stage as observability

RAW_TO_CLEAN = [("sources.crm_contacts", "profiles.clean_profiles", "crm_contacts",
                 "record_id", "record_id"),
                ("sources.crm_orders", "profiles.clean_orders", "crm_orders",
                 "order_record_id", "order_record_id")]


class ReconciliationConfig(dg.Config):
    list_esp_members: bool = False
    """List every ESP member even when the ESP's count equals ours (slower: proves the
    checksum, finds a swap of one member for another that counts alone cannot)."""


@dg.asset(
    key=["observability", "reconciliation"],
    group_name="observability",
    deps=[
        dg.AssetKey(["sources", "crm_contacts"]), dg.AssetKey(["sources", "crm_orders"]),
        dg.AssetKey(["profiles", "quarantine"]),
        dg.AssetKey(["audiences", "marketable_audience"]),
        dg.AssetKey(["activation", "esp_payload"]), dg.AssetKey(["activation", "esp_sync"]),
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars", "mailchimp"},
    tags={"stage": "observability", "pii": "false"},
    pool=pool_for("mailchimp"),
)
def reconciliation(
    context: dg.AssetExecutionContext, config: ReconciliationConfig,
    warehouse: WarehouseResource, mailchimp: MailchimpResource,
) -> dg.MaterializeResult:
    """Counts and checksums compared across systems after every sync: every raw CRM row is
    either a clean profile or in quarantine; every marketable person has one ESP payload; the
    ESP holds exactly the members our sync state says it holds (its count first, every member
    only when the counts differ). Members missing at the ESP are re-queued for the next sync.
    History per run in observability.reconciliation_history; a mismatch raises an alert and a
    hold (reconciliation_no_anomaly)."""
    wh = warehouse.get()
    quarantine = wh.read("profiles.quarantine")
    rows = [
        observability.raw_vs_clean(wh.read(raw, [raw_key]), wh.read(clean, [clean_key]),
                                   quarantine, name, raw_key, clean_key)
        for raw, clean, name, raw_key, clean_key in RAW_TO_CLEAN
    ]
    payload = wh.read("activation.esp_payload", ["destination", "email"]).filter(
        pl.col("destination") == "mailchimp")
    rows.append(observability.audience_vs_payload(
        wh.read("audiences.marketable_audience", ["email"]), payload))
    comparison = _compare_with_esp(wh, mailchimp, config.list_esp_members)
    rows.append(comparison.row)
    requeued = observability.requeue_members(wh, mailchimp.list_id, comparison.missing_at_esp)
    frame = observability.to_frame(rows)
    wh.write("observability.reconciliation", frame)
    wh.append("observability.reconciliation_history",
              frame.with_columns(run_id=pl.lit(context.run.run_id)))
    failed = frame.filter(~pl.col("ok"))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height,
        "mismatches": failed.height,
        "failed_checks": ", ".join(failed["check"].to_list()),
        "esp_members_listed": comparison.listed,
        "members_requeued": requeued,
        "results": dg.MetadataValue.md(frame_to_markdown(
            frame.select("check", "left_count", "right_count", "ok", "detail"))),
    })


def _compare_with_esp(wh, mailchimp: MailchimpResource, always_list: bool):
    synced = _synced_state(wh, mailchimp.list_id)
    client = mailchimp.client()
    try:
        # One request: the audience's own count (the connector has no method for it yet).
        stats = client.http.request("GET", f"/lists/{mailchimp.list_id}").get("stats", {})
        return observability.synced_state_vs_esp(
            synced, int(stats.get("member_count", -1)),
            lambda: list(client.iter_members(mailchimp.list_id)), always_list)
    finally:
        client.close()


def _synced_state(wh, list_id: str) -> pl.DataFrame:
    if not wh.exists("activation.sync_state"):
        return pl.DataFrame(schema={"subscriber_hash": pl.Utf8, "status": pl.Utf8})
    return wh.query("select subscriber_hash, status from activation.sync_state where list_id = ?",
                    [list_id])


@dg.asset_check(asset=reconciliation, description="Source, warehouse and ESP agree.")
def reconciliation_matches(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().read("observability.reconciliation")
    failed = frame.filter(~pl.col("ok"))
    return dg.AssetCheckResult(
        passed=failed.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_checks": ", ".join(failed["check"].to_list()) or "none"},
    )
