"""Warnings on the raw `sources/*` tables: how healthy is what the connectors brought in?

These never block: the cleaners quarantine bad rows anyway. They tell the source owner early
that, say, a CRM export started sending duplicate ids or unknown consent purposes. Metadata
holds counts and record keys only.
"""

import dagster as dg

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.profiles.tables import (
    CONSENT,
    CONTACTS,
    ESP_EVENTS,
    ORDERS,
    ProfileTable,
)


def _raw_check(table: ProfileTable) -> dg.AssetChecksDefinition:
    return table_schema_check(
        table.raw_asset, table.raw_table, table.raw_model, table.raw_key,
        f"{table.raw_name}_looks_healthy", blocking=False,
        description=(
            f"{table.raw_table} keys present and unique, values plausible "
            f"({table.raw_model.__name__}); WARN only, bad rows are quarantined downstream."
        ),
    )


crm_contacts_looks_healthy = _raw_check(CONTACTS)
crm_orders_looks_healthy = _raw_check(ORDERS)
esp_events_looks_healthy = _raw_check(ESP_EVENTS)
consent_raw_looks_healthy = _raw_check(CONSENT)
