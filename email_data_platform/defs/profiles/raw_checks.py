"""Warnings on the raw `sources/*` tables: how healthy is what the connectors brought in?

These never block: the cleaners quarantine bad rows anyway. They tell the source owner early
that, say, a CRM export started sending duplicate ids or unknown consent purposes. Metadata
holds counts and record keys only.
"""

import dagster as dg

from email_data_platform.defs.profiles.checks import summary_metadata
from email_data_platform.defs.profiles.tables import (
    CONSENT,
    CONTACTS,
    ESP_EVENTS,
    ORDERS,
    ProfileTable,
)
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.profiles.stage import schemas


def _raw_check(table: ProfileTable):
    @dg.asset_check(
        asset=table.raw_asset,
        name=f"{table.raw_name}_looks_healthy",
        description=(
            f"{table.raw_table} keys present and unique, values plausible "
            f"({table.raw_model.__name__}); WARN only, bad rows are quarantined downstream."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        frame = warehouse.get().read(table.raw_table)
        summary = schemas.validate_table(table.raw_model, frame, table.raw_key)
        return dg.AssetCheckResult(
            passed=summary.passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=summary_metadata(summary),
        )

    return _check


crm_contacts_looks_healthy = _raw_check(CONTACTS)
crm_orders_looks_healthy = _raw_check(ORDERS)
esp_events_looks_healthy = _raw_check(ESP_EVENTS)
consent_raw_looks_healthy = _raw_check(CONSENT)
