"""Checks on the consent-decided audiences: nobody reaches activation without a current
email-marketing grant, and analysts see only pseudonyms of people who consented to analytics."""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    LEDGER_DECISION_COLUMNS,
    MarketableAudienceModel,
    analytics_subjects,
    audience_rows_without_consent,
    granted_entities,
    with_subjects,
)

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
        wh.read("audiences.marketable_audience", ["entity_id"]),
        wh.read("privacy.consent_ledger", LEDGER_DECISION_COLUMNS))
    return dg.AssetCheckResult(
        passed=offenders.height == 0,
        metadata={"rows_without_consent": offenders.height,
                  "example_entity_ids": ", ".join(offenders["entity_id"].head(5).to_list())},
    )


marketable_audience_matches_schema = table_schema_check(
    MARKETABLE_AUDIENCE, "audiences.marketable_audience", MarketableAudienceModel, "entity_id",
    "marketable_audience_matches_schema",
)
@dg.asset_check(
    asset=dg.AssetKey(["audiences", "analytics_features"]),
    blocking=True,
    additional_deps=[dg.AssetKey(["privacy", "consent_ledger"])],
    description="The analytics view holds no raw ids or emails, and only people who granted "
    "analytics consent.",
)
def analytics_features_pseudonymised(
    warehouse: WarehouseResource, pseudonymisation: PseudonymisationResource
) -> dg.AssetCheckResult:
    wh = warehouse.get()
    view = wh.read("audiences.analytics_features")
    identifying = [c for c in ("entity_id", "email", "first_name", "last_name", "phone")
                   if c in view.columns]
    consenting = granted_entities(wh.read("privacy.consent_ledger"), "analytics")["entity_id"]
    # recompute the pseudonyms of consenting people: anyone else in the view must not be there
    subjects = with_subjects(consenting.to_frame("entity_id"), analytics_subjects(wh))
    allowed = pseudonymisation.keyring().pseudonymise_series(subjects["subject"])
    outsiders = view.filter(~pl.col("person_pseudonym").is_in(allowed.implode())).height
    return dg.AssetCheckResult(
        passed=not identifying and outsiders == 0,
        metadata={"identifying_columns": ", ".join(identifying) or "none",
                  "rows_without_analytics_consent_or_stale_key": outsiders,
                  "rows": view.height},
    )
