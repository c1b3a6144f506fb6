"""Audiences stage: customer features, the marketable audience and the declared segments."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from email_data_platform.defs.privacy.metadata import counts_by, table_metadata
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.audit import AuditEntry, append_audit_entries
from email_data_platform.lib.consent import build_marketable_audience, granted_entities
from email_data_platform.lib.features import build_customer_features
from email_data_platform.lib.pseudonymise import pseudonymised_view
from email_data_platform.lib.segments import (
    DEFAULT_SEGMENTS_PATH,
    SegmentDefinitionError,
    assign_segments,
    load_segments,
)

OWNERS = ["team:data-platform"]
ERASURE_TABLE = "privacy.erasure_log"
# exact dates narrow a pseudonymous person down; analysts get recency_days instead
ANALYTICS_DROPPED_COLUMNS = ("last_order_date", "suppression_reason")


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
    as_of = datetime.fromisoformat(config.as_of) if config.as_of else datetime.now(UTC)
    record_emails = (_record_emails(wh)
                     if wh.exists("profiles.clean_profiles") else None)
    features = build_customer_features(
        wh.read("identity.entities"), wh.read("identity.golden_profiles"),
        wh.read("profiles.clean_orders"), wh.read("profiles.clean_esp_events"),
        record_emails=record_emails, as_of=as_of,
    )
    wh.write("audiences.customer_features", features)
    return dg.MaterializeResult(metadata=table_metadata(
        features, counts_by(features, "rfm_segment", "suppressed"),
        as_of=as_of.isoformat(),
        suppressed=int(features["suppressed"].sum()),
        total_lifetime_value=float(features["lifetime_value"].sum()),
    ))


def _record_emails(wh) -> pl.DataFrame:
    columns = ["record_id", "email"]
    if "email_key" in wh.query("select * from profiles.clean_profiles limit 0").columns:
        columns.append("email_key")
    return wh.read("profiles.clean_profiles", columns)


@dg.asset(
    key=["audiences", "marketable_audience"],
    group_name="audiences",
    deps=[
        dg.AssetKey(["identity", "golden_profiles"]), dg.AssetKey(["privacy", "consent_ledger"]),
        customer_features,
    ],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "true"},
)
def marketable_audience(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The people we are allowed to email: explicit, current consent for email marketing, not
    suppressed by the email provider (bounce, complaint, unsubscribe), not erased on request,
    and a valid email address. A shared inbox is mailed only if every person using it qualifies.
    """
    wh = warehouse.get()
    erased = (wh.read(ERASURE_TABLE, ["entity_id"])["entity_id"]
              if wh.exists(ERASURE_TABLE) else None)
    audience, exclusions = build_marketable_audience(
        wh.read("identity.golden_profiles"), wh.read("privacy.consent_ledger"),
        wh.read("audiences.customer_features"), erased_entity_ids=erased,
    )
    wh.write("audiences.marketable_audience", audience)
    append_audit_entries(wh, [AuditEntry(
        "audience built", "audiences.marketable_audience", exclusions)], run_id=context.run_id)
    funnel = pl.DataFrame({"rule": list(exclusions), "people": list(exclusions.values())})
    return dg.MaterializeResult(metadata=table_metadata(
        audience, funnel, **exclusions, **{"dagster/column_lineage": _audience_lineage()}))


def _audience_lineage() -> dg.TableColumnLineage:
    golden = dg.AssetKey(["identity", "golden_profiles"])
    ledger = dg.AssetKey(["privacy", "consent_ledger"])
    return dg.TableColumnLineage(deps_by_column={
        "entity_id": [dg.TableColumnDep(golden, "entity_id")],
        "email": [dg.TableColumnDep(golden, "email")],
        "first_name": [dg.TableColumnDep(golden, "first_name")],
        "last_name": [dg.TableColumnDep(golden, "last_name")],
        "policy_version": [dg.TableColumnDep(ledger, "policy_version")],
        "consent_decided_at": [dg.TableColumnDep(ledger, "decided_at")],
    })


@dg.asset(
    key=["audiences", "segments"],
    group_name="audiences",
    deps=[customer_features],
    owners=OWNERS,
    kinds={"duckdb", "polars", "yaml"},
    tags={"stage": "audiences", "pii": "false"},
)
def segments(
    context: dg.AssetExecutionContext, config: SegmentsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Who belongs to which marketing segment (high value, lapsed, ...). Segments are declared
    as rules over customer features in segments.yaml, so marketers change them without code;
    one row per person and segment. They reach the email provider as tags and a SEGMENTS field.
    """
    wh = warehouse.get()
    features = wh.read("audiences.customer_features")
    path = config.segments_path or DEFAULT_SEGMENTS_PATH
    try:
        declared = load_segments(path, dict(features.schema))
    except SegmentDefinitionError as error:
        raise dg.Failure(description=f"segments file {path}: {error}") from error
    memberships = assign_segments(features, declared)
    wh.write("audiences.segments", memberships)
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
    key=["audiences", "analytics_features"],
    group_name="audiences",
    deps=[customer_features, dg.AssetKey(["privacy", "consent_ledger"])],
    owners=OWNERS,
    kinds={"duckdb", "polars"},
    tags={"stage": "audiences", "pii": "false"},
)
def analytics_features(
    warehouse: WarehouseResource, pseudonymisation: PseudonymisationResource
) -> dg.MaterializeResult:
    """Customer features for analysts, without identities: only people who consented to
    analytics, each known by a keyed pseudonym instead of their id. The same person keeps the
    same pseudonym until the key is rotated; without the key nobody can link it back.
    """
    wh = warehouse.get()
    keyring = pseudonymisation.keyring()
    consented = granted_entities(wh.read("privacy.consent_ledger"), "analytics")["entity_id"]
    features = wh.read("audiences.customer_features")
    view = pseudonymised_view(features, consented, keyring,
                              drop_columns=ANALYTICS_DROPPED_COLUMNS)
    wh.write("audiences.analytics_features", view)
    return dg.MaterializeResult(metadata=table_metadata(
        view, counts_by(view, "rfm_segment"),
        pseudonym_key_id=keyring.active_key_id,
        excluded_without_analytics_consent=features.height - view.height,
    ))
