"""Checks on the raw tables: nothing landed twice, and each source's count agrees with ours."""

import dagster as dg

from email_data_platform.defs.sources.assets import (
    consent_raw,
    crm_contacts,
    crm_orders,
    esp_events,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.sources.stage import duplicate_keys, source_total_mismatches


def _unique_check(asset: dg.AssetsDefinition, table: str, key: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=f"{asset.key.path[-1]}_one_row_per_record", blocking=True,
                    description=f"Every {key} appears once in {table}: re-runs, overlapping "
                                "windows and retries never duplicate a record.")
    def one_row_per_record(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        duplicates = duplicate_keys(warehouse.get(), table, key)
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicates": duplicates})

    return one_row_per_record


def _totals_check(asset: dg.AssetsDefinition, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=f"{asset.key.path[-1]}_matches_source_totals",
                    description=f"The live rows of {table} per source equal the total the source "
                                "reported at the last extraction.")
    def matches_source_totals(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        mismatches = source_total_mismatches(warehouse.get(), table)
        return dg.AssetCheckResult(passed=not mismatches, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"mismatches": dg.MetadataValue.json(mismatches)})

    return matches_source_totals


crm_contacts_one_row_per_record = _unique_check(crm_contacts, "sources.crm_contacts", "record_id")
crm_orders_one_row_per_record = _unique_check(crm_orders, "sources.crm_orders", "order_record_id")
esp_events_one_row_per_record = _unique_check(esp_events, "sources.esp_events", "event_id")
consent_raw_one_row_per_record = _unique_check(consent_raw, "sources.consent_raw", "event_id")
crm_contacts_matches_source_totals = _totals_check(crm_contacts, "sources.crm_contacts")
crm_orders_matches_source_totals = _totals_check(crm_orders, "sources.crm_orders")
consent_raw_matches_source_totals = _totals_check(consent_raw, "sources.consent_raw")
