"""The audiences stage's facade: customer features and declared segments.

Internals: `features` (value and engagement per entity), `segments` (segments.yaml parsed,
validated and compiled to filters, with the privacy rules on profiling and topics) and `history`
(when each entity entered and left each segment). The consent-decided audiences are privacy's
(`lib/privacy/stage.py`). Callers outside `lib/audiences/` import from here only.
"""

import logging
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.audiences.features import (
    FEATURE_SCHEMA,
    CustomerFeaturesModel,
    build_customer_features,
)
from email_data_platform.lib.audiences.features_sql import FeatureInputs, features_sql
from email_data_platform.lib.audiences.history import HISTORY_SCHEMA, update_membership_history
from email_data_platform.lib.audiences.segments import (
    DEFAULT_SEGMENTS_PATH,
    Segment,
    SegmentDefinitionError,
    SegmentsModel,
    assign_segments,
    load_segments,
)
from email_data_platform.lib.privacy.stage import granted_entities
from email_data_platform.lib.warehouse import DuckDBWarehouse

logger = logging.getLogger(__name__)

FEATURES = "audiences.customer_features"
ENTITIES, GOLDEN = "identity.entities", "identity.golden_profiles"
ORDERS, EVENTS = "profiles.clean_orders", "profiles.clean_esp_events"
PROFILES = "profiles.clean_profiles"
SEGMENTS = "audiences.segments"
HISTORY = "audiences.segment_membership"
LEDGER = "privacy.consent_ledger"
TOPICS = "privacy.topic_preferences"

__all__ = [
    "DEFAULT_SEGMENTS_PATH", "FEATURE_SCHEMA", "HISTORY_SCHEMA", "CustomerFeaturesModel",
    "Segment", "SegmentDefinitionError", "SegmentsModel", "build_features", "build_segments",
    "declared_segment_names", "load_segments", "record_segment_history",
]


def declared_segment_names(path=DEFAULT_SEGMENTS_PATH) -> set[str]:
    """Names of the segments a segments file declares, validated against the features' schema
    (so a broken file fails when the code location loads, naming the segment and the rule)."""
    return {segment.name for segment in load_segments(path, FEATURE_SCHEMA)}


def build_features(warehouse, as_of: datetime) -> pl.DataFrame:
    """Build and write audiences.customer_features; returns it.

    On the DuckDB warehouse the statement runs where the tables are (nothing but the result
    comes into Python); other warehouses hand their tables to an in-memory DuckDB."""
    as_of = as_of.astimezone(UTC)
    has_records = warehouse.exists(PROFILES)
    if isinstance(warehouse, DuckDBWarehouse):
        tables = [ENTITIES, GOLDEN, ORDERS, EVENTS, *([PROFILES] if has_records else [])]
        inputs = FeatureInputs(
            entities=ENTITIES, golden=GOLDEN, orders=ORDERS, events=EVENTS,
            records=PROFILES if has_records else None,
            columns={t: dict(warehouse.query(f"select * from {t} limit 0").schema)
                     for t in tables})
        schema = FEATURES.split(".")[0]
        with warehouse.transaction([schema]) as con:
            con.execute(f"create or replace table {FEATURES} as {features_sql(inputs, as_of)}")
        return warehouse.read(FEATURES)
    features = build_customer_features(
        warehouse.read(ENTITIES), warehouse.read(GOLDEN), warehouse.read(ORDERS),
        warehouse.read(EVENTS), record_emails=_record_emails(warehouse) if has_records else None,
        as_of=as_of,
    )
    warehouse.write(FEATURES, features)
    return features


def build_segments(warehouse, features: pl.DataFrame, declared: list[Segment]) -> pl.DataFrame:
    """Assign every entity to the declared segments and write audiences.segments. Segments on
    behaviour or value keep only people with a current profiling grant; a segment's topic drops
    people who withdrew that topic (privacy.topic_preferences; no table = nobody has)."""
    memberships = assign_segments(features, declared, _profiling_granted(warehouse),
                                  _topic_opt_outs(warehouse))
    warehouse.write(SEGMENTS, memberships)
    return memberships


def record_segment_history(warehouse, memberships: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Open and close stays in audiences.segment_membership for today's memberships."""
    previous = warehouse.read(HISTORY) if warehouse.exists(HISTORY) else None
    history = update_membership_history(previous, memberships, now)
    warehouse.write(HISTORY, history)
    return history


def _profiling_granted(warehouse) -> pl.Series | None:
    ledger = (warehouse.read(LEDGER) if warehouse.exists(LEDGER)
              else pl.DataFrame(schema={"entity_id": pl.Utf8, "purpose": pl.Utf8,
                                        "status": pl.Utf8, "policy_version": pl.Utf8,
                                        "decided_at": pl.Datetime("us", "UTC")}))
    try:
        return granted_entities(ledger, "profiling")["entity_id"]
    except ValueError:  # the privacy stage does not record the purpose (yet): not restricted
        logger.warning("no 'profiling' consent purpose in the privacy stage; behavioural "
                       "segments are not restricted by it")
        return None


def _topic_opt_outs(warehouse) -> pl.DataFrame | None:
    """(entity_id, topic) whose latest topic preference is withdrawn."""
    if not warehouse.exists(TOPICS):
        return None
    latest = warehouse.read(TOPICS).sort("decided_at").unique(["entity_id", "topic"],
                                                              keep="last")
    return latest.filter(pl.col("status") == "withdrawn").select("entity_id", "topic")


def _record_emails(warehouse) -> pl.DataFrame:
    columns = ["record_id", "email"]
    if "email_key" in warehouse.query(f"select * from {PROFILES} limit 0").columns:
        columns.append("email_key")
    return warehouse.read(PROFILES, columns)
