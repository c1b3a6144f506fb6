"""Reconciliation: the proof that source, warehouse and ESP hold the same people."""

import dagster as dg
import polars as pl

from email_data_platform.defs.connections import MailchimpResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.observability import stage as observability

RAW_TO_CLEAN = [("sources.crm_contacts", "profiles.clean_profiles", "crm_contacts",
                 "record_id", "record_id"),
                ("sources.crm_orders", "profiles.clean_orders", "crm_orders",
                 "order_record_id", "order_record_id")]


@dg.asset(
    key=["observability", "reconciliation"],
    group_name="observability",
    deps=[
        dg.AssetKey(["sources", "crm_contacts"]), dg.AssetKey(["sources", "crm_orders"]),
        dg.AssetKey(["profiles", "quarantine"]),
        dg.AssetKey(["audiences", "marketable_audience"]),
        dg.AssetKey(["activation", "esp_payload"]), dg.AssetKey(["activation", "esp_sync"]),
    ],
    owners=["team:data-platform"],
    kinds={"duckdb", "polars", "mailchimp"},
    tags={"stage": "observability", "pii": "false"},
)
def reconciliation(
    warehouse: WarehouseResource, mailchimp: MailchimpResource
) -> dg.MaterializeResult:
    """Counts and checksums compared across systems after every sync: every raw CRM row is
    either a clean profile or in quarantine; every marketable person has one ESP payload; the
    ESP holds exactly the members we pushed. A mismatch raises an alert (reconciliation sensor)."""
    wh = warehouse.get()
    quarantine = wh.read("profiles.quarantine")
    rows = [
        observability.raw_vs_clean(wh.read(raw), wh.read(clean), quarantine, name,
                                   raw_key, clean_key)
        for raw, clean, name, raw_key, clean_key in RAW_TO_CLEAN
    ]
    payload = wh.read("activation.esp_payload").filter(pl.col("destination") == "mailchimp")
    rows.append(observability.audience_vs_payload(
        wh.read("audiences.marketable_audience"), payload))
    client = mailchimp.client()
    try:
        member_ids = [m["id"] for m in client.iter_members(mailchimp.list_id, status="subscribed")]
    finally:
        client.close()
    rows.append(observability.payload_vs_esp(payload, member_ids))
    frame = observability.to_frame(rows)
    wh.write("observability.reconciliation", frame)
    failed = frame.filter(~pl.col("ok"))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height,
        "mismatches": failed.height,
        "failed_checks": ", ".join(failed["check"].to_list()),
        "results": dg.MetadataValue.md(frame_to_markdown(
            frame.select("check", "left_count", "right_count", "ok", "detail"))),
    })


@dg.asset_check(asset=reconciliation, description="Source, warehouse and ESP agree.")
def reconciliation_matches(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().read("observability.reconciliation")
    failed = frame.filter(~pl.col("ok"))
    return dg.AssetCheckResult(
        passed=failed.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_checks": ", ".join(failed["check"].to_list()) or "none"},
    )
