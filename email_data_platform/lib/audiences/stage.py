"""The audiences stage's facade: customer features and declared segments.

Internals: `features` (value and engagement per entity) and `segments` (segments.yaml parsed,
validated and compiled to filters). The consent-decided audiences are privacy's
(`lib/privacy/stage.py`). Callers outside `lib/audiences/` import from here only.
"""

from datetime import datetime

import polars as pl

from email_data_platform.lib.audiences.features import (
    CustomerFeaturesModel,
    build_customer_features,
)
from email_data_platform.lib.audiences.segments import (
    DEFAULT_SEGMENTS_PATH,
    Segment,
    SegmentDefinitionError,
    SegmentsModel,
    assign_segments,
    load_segments,
)

FEATURES = "audiences.customer_features"
SEGMENTS = "audiences.segments"

__all__ = [
    "DEFAULT_SEGMENTS_PATH", "CustomerFeaturesModel", "Segment", "SegmentDefinitionError",
    "SegmentsModel", "build_features", "build_segments", "declared_segment_names",
    "load_segments",
]


def declared_segment_names(path=DEFAULT_SEGMENTS_PATH) -> set[str]:
    """Names of the segments a segments file declares (validated without a features schema)."""
    return {segment.name for segment in load_segments(path)}


def build_features(warehouse, as_of: datetime) -> pl.DataFrame:
    """Build and write audiences.customer_features; returns it."""
    record_emails = (_record_emails(warehouse)
                     if warehouse.exists("profiles.clean_profiles") else None)
    features = build_customer_features(
        warehouse.read("identity.entities"), warehouse.read("identity.golden_profiles"),
        warehouse.read("profiles.clean_orders"), warehouse.read("profiles.clean_esp_events"),
        record_emails=record_emails, as_of=as_of,
    )
    warehouse.write(FEATURES, features)
    return features


def build_segments(warehouse, features: pl.DataFrame, declared: list[Segment]) -> pl.DataFrame:
    """Assign every entity to the declared segments and write audiences.segments."""
    memberships = assign_segments(features, declared)
    warehouse.write(SEGMENTS, memberships)
    return memberships


def _record_emails(warehouse) -> pl.DataFrame:
    columns = ["record_id", "email"]
    if "email_key" in warehouse.query("select * from profiles.clean_profiles limit 0").columns:
        columns.append("email_key")
    return warehouse.read("profiles.clean_profiles", columns)
