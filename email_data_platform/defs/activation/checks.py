"""Activation checks: the payload is minimised and holds only marketable people."""

import dagster as dg

from email_data_platform.defs.activation.assets import DESTINATIONS
from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.activation.stage import EspPayloadModel, allow_list_violations

ESP_PAYLOAD = dg.AssetKey(["activation", "esp_payload"])
ESP_SYNC = dg.AssetKey(["activation", "esp_sync"])

esp_payload_matches_schema = table_schema_check(
    ESP_PAYLOAD, "activation.esp_payload", EspPayloadModel, "subscriber_hash",
    "esp_payload_matches_schema",
)


@dg.asset_check(
    asset=ESP_PAYLOAD,
    blocking=True,
    description="The payload holds only the allow-listed columns, declared destinations and the "
    "fields each destination maps (data minimisation). Blocks the sync otherwise.",
)
def esp_payload_allow_listed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    violations = allow_list_violations(warehouse.get().read("activation.esp_payload"),
                                       DESTINATIONS)
    return dg.AssetCheckResult(
        passed=not violations,
        metadata={"violations": ", ".join(violations) or "none"},
    )


@dg.asset_check(
    asset=ESP_PAYLOAD,
    blocking=True,
    description="Every payload address belongs to the marketable audience, once per destination.",
)
def esp_payload_only_marketable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    payload = wh.read("activation.esp_payload", ["destination", "email"])
    audience = wh.read("audiences.marketable_audience", ["email"])
    outsiders = payload.join(audience, on="email", how="anti").height
    duplicates = int(payload.select("destination", "email").is_duplicated().sum())
    return dg.AssetCheckResult(
        passed=outsiders == 0 and duplicates == 0,
        metadata={"addresses_not_marketable": outsiders, "duplicate_addresses": duplicates},
    )


@dg.asset_check(
    asset=ESP_SYNC,
    description="The latest sync recorded no member failures or refusals at any destination "
    "(failed members are retried by the next sync, refused ones once their row changes; see "
    "activation.sync_receipts for the provider's reasons).",
)
def esp_sync_without_failures(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    if not wh.exists("activation.esp_sync"):
        return dg.AssetCheckResult(passed=True, metadata={"reason": "no sync yet"})
    latest = wh.query("select * from activation.esp_sync where run_id = (select run_id from "
                      "activation.esp_sync order by finished_at desc limit 1)")
    failed = int(latest["failed"].sum()) if latest.height else 0
    rejected = int(latest["rejected"].fill_null(0).sum()) if "rejected" in latest.columns else 0
    return dg.AssetCheckResult(
        passed=failed == 0 and rejected == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_members": failed, "rejected_members": rejected,
                  "run_id": latest["run_id"][0] if latest.height else "none"},
    )
