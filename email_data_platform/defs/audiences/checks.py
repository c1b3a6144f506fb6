"""Audience checks: features and segments satisfy their pandera models."""

import dagster as dg

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.lib.audiences.stage import CustomerFeaturesModel, SegmentsModel

customer_features_matches_schema = table_schema_check(
    dg.AssetKey(["audiences", "customer_features"]), "audiences.customer_features",
    CustomerFeaturesModel, "entity_id", "customer_features_matches_schema",
)
segments_matches_schema = table_schema_check(
    dg.AssetKey(["audiences", "segments"]), "audiences.segments", SegmentsModel, "entity_id",
    "segments_matches_schema",
)
