"""Audience checks: features and segments satisfy their pandera models."""

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.audiences.stage import CustomerFeaturesModel, SegmentsModel

customer_features_matches_schema = table_schema_check(
    dg.AssetKey(["audiences", "customer_features"]), "audiences.customer_features",
    CustomerFeaturesModel, "entity_id", "customer_features_matches_schema",
)
segments_matches_schema = table_schema_check(
    dg.AssetKey(["audiences", "segments"]), "audiences.segments", SegmentsModel, "entity_id",
    "segments_matches_schema",
)


@dg.asset_check(
    asset=dg.AssetKey(["audiences", "segment_membership"]),
    blocking=True,
    description="Every person has at most one open stay per segment, every stay ends after it "
    "began, and the open stays are exactly today's memberships.",
)
def segment_membership_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    history = wh.read("audiences.segment_membership")
    open_stays = history.filter(pl.col("left_at").is_null())
    doubled = int(open_stays.select("entity_id", "segment").is_duplicated().sum())
    backwards = history.filter(pl.col("left_at") < pl.col("entered_at")).height
    current = wh.read("audiences.segments", ["entity_id", "segment"])
    differ = (current.join(open_stays, on=["entity_id", "segment"], how="anti").height
              + open_stays.join(current, on=["entity_id", "segment"], how="anti").height)
    return dg.AssetCheckResult(
        passed=doubled == backwards == differ == 0,
        metadata={"doubled_open_stays": doubled, "stays_ending_before_start": backwards,
                  "open_stays_not_matching_segments": differ},
    )
