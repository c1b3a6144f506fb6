"""Audiences stage: customer features and the declared segments (consent-decided audiences are in
consented.py)."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib import clock
from email_data_platform.lib.audiences.stage import (
    DEFAULT_SEGMENTS_PATH,
    SegmentDefinitionError,
    build_features,
    build_segments,
    declared_segment_names,
    load_segments,
    record_segment_history,
)
from email_data_platform.lib.privacy.stage import AuditEntry, append_audit_entries

# Read when the code location loads: a broken segments.yaml fails there, naming the segment and
# the rule, not only when the asset runs.
DECLARED_SEGMENTS = declared_segment_names()


class CustomerFeaturesConfig(dg.Config):
    as_of: str = ""
    """ISO 8601 instant the features are computed at (recency, 90-day windows); empty = now."""


class SegmentsConfig(dg.Config):
    segments_path: str = ""
    """A segments YAML file; empty = the segments.yaml shipped with the project."""


@dg.asset(
    key=["audiences", "customer_features"],
    group_name="audiences",
    deps=[
        dg.AssetKey(["identity", "entities"]), dg.AssetKey(["identity", "golden_profiles"]),
        dg.AssetKey(["profiles", "clean_profiles"]), dg.AssetKey(["profiles", "clean_orders"]),
        dg.AssetKey(["profiles", "clean_esp_events"]),
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "false"},
)
def customer_features(
    config: CustomerFeaturesConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """What we know about each customer's value and engagement: lifetime value (paid orders, in
    GBP), recency/frequency/monetary (RFM) scores and segment, opens and clicks in the last 90
    days, and whether the email provider reported a bounce, complaint or unsubscribe (suppressed).
    """
    wh = warehouse.get()
    as_of = clock.as_of(config.as_of)
    features = build_features(wh, as_of)
    return dg.MaterializeResult(metadata=table_metadata(
        features, counts_by(features, "rfm_segment", "suppressed"),
        as_of=as_of.isoformat(),
        suppressed=int(features["suppressed"].sum()),
        total_lifetime_value=float(features["lifetime_value"].sum()),
    ))


@dg.asset(
    key=["audiences", "segments"],
    group_name="audiences",
    deps=[customer_features, dg.AssetKey(["privacy", "consent_ledger"]),
          dg.AssetKey(["privacy", "topic_preferences"])],
    owners=OWNERS,
    kinds={"duckdb", "polars", "yaml"},
    tags={"stage": "audiences", "pii": "false"},
)
def segments(
    context: dg.AssetExecutionContext, config: SegmentsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Who belongs to which marketing segment (high value, lapsed, ...). Segments are declared
    as rules over customer features in segments.yaml, so marketers change them without code;
    one row per person and segment. Segments on behaviour or value hold only people who allow
    profiling; a segment with a topic leaves out people who withdrew that topic. They reach the
    email providers as tags and a segments field.
    """
    wh = warehouse.get()
    features = wh.read("audiences.customer_features")
    path = config.segments_path or DEFAULT_SEGMENTS_PATH
    try:
        declared = load_segments(path, dict(features.schema))
    except SegmentDefinitionError as error:
        raise dg.Failure(description=f"segments file {path}: {error}") from error
    memberships = build_segments(wh, features, declared)
    sizes = {s.name: 0 for s in declared} | dict(counts_by(memberships, "segment").iter_rows())
    append_audit_entries(wh, [AuditEntry("segments built", "audiences.segments", sizes)],
                         run_id=context.run_id)
    preview = pl.DataFrame({"segment": list(sizes), "members": list(sizes.values())})
    return dg.MaterializeResult(metadata=table_metadata(
        memberships, preview, segments_declared=len(declared),
        segment_rules=dg.MetadataValue.md("\n".join(
            f"- **{s.name}**: {s.description}" for s in declared)),
    ))


@dg.asset(
    key=["audiences", "segment_membership"],
    group_name="audiences",
    deps=[segments],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "false"},
)
def segment_membership(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """When each person entered and left each segment, kept across runs: one row per stay
    (entered_at, and left_at once they left; a person who comes back gets a new stay). Answers
    "who was in this segment on that day?" for marketers and auditors.
    """
    wh = warehouse.get()
    now = datetime.now(UTC)
    history = record_segment_history(wh, wh.read("audiences.segments"), now)
    changed_now = history.filter((pl.col("entered_at") == now) | (pl.col("left_at") == now))
    moves = changed_now.select("segment", move=pl.when(pl.col("left_at").is_null())
                               .then(pl.lit("entered")).otherwise(pl.lit("left")))
    return dg.MaterializeResult(metadata=table_metadata(
        history, counts_by(moves, "segment", "move") if moves.height else None,
        open_stays=history.filter(pl.col("left_at").is_null()).height,
        entered_this_run=moves.filter(pl.col("move") == "entered").height,
        left_this_run=moves.filter(pl.col("move") == "left").height,
    ))
