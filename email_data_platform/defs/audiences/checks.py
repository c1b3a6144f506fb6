"""Audience checks: nobody reaches activation without a current email-marketing grant."""

import dagster as dg

from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.consent import audience_rows_without_consent

MARKETABLE_AUDIENCE = dg.AssetKey(["audiences", "marketable_audience"])


@dg.asset_check(
    asset=MARKETABLE_AUDIENCE,
    blocking=True,
    description="Every person in the marketable audience has a current, explicit grant for "
    "email_marketing in the consent ledger. Blocks the ESP payload and sync otherwise.",
)
def marketable_audience_has_consent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    offenders = audience_rows_without_consent(
        wh.read("audiences.marketable_audience"), wh.read("privacy.consent_ledger"))
    return dg.AssetCheckResult(
        passed=offenders.height == 0,
        metadata={"rows_without_consent": offenders.height,
                  "example_entity_ids": ", ".join(offenders["entity_id"].head(5).to_list())},
    )


@dg.asset_check(
    asset=MARKETABLE_AUDIENCE,
    blocking=True,
    description="One row per email address and per person (no one is mailed twice).",
)
def marketable_audience_unique(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    audience = warehouse.get().read("audiences.marketable_audience")
    duplicate_emails = int(audience["email"].is_duplicated().sum())
    duplicate_entities = int(audience["entity_id"].is_duplicated().sum())
    return dg.AssetCheckResult(
        passed=duplicate_emails == 0 and duplicate_entities == 0,
        metadata={"duplicate_emails": duplicate_emails, "duplicate_entities": duplicate_entities},
    )
