"""What an auditor sees in the UI before any run: table schemas (from the pandera models),
column lineage of the derived tables, and code references, added to every asset spec once the
defs/ folder is loaded (definitions.py). One place builds this metadata.

Materialisations still report the schema they actually wrote; lineage derived from data
(segments.yaml) is read from the package, never from the environment.
"""

import warnings

import dagster as dg

from email_data_platform.defs.metadata import MODELS, schema_from_model
from email_data_platform.defs.observability.policies import with_policies
from email_data_platform.lib.audiences.stage import load_segments

CLEAN_PROFILES = dg.AssetKey(["profiles", "clean_profiles"])
CLEAN_ORDERS = dg.AssetKey(["profiles", "clean_orders"])
CLEAN_EVENTS = dg.AssetKey(["profiles", "clean_esp_events"])
ENTITIES = dg.AssetKey(["identity", "entities"])
GOLDEN = dg.AssetKey(["identity", "golden_profiles"])
FEATURES = dg.AssetKey(["audiences", "customer_features"])
SEGMENTS = dg.AssetKey(["audiences", "segments"])
AUDIENCE = dg.AssetKey(["audiences", "marketable_audience"])
PAYLOAD = dg.AssetKey(["activation", "esp_payload"])
GOLDEN_ATTRIBUTES = ["email", "first_name", "last_name", "date_of_birth", "phone", "city",
                     "postal_code", "country", "company"]


def _deps(asset: dg.AssetKey, *columns: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset, column) for column in columns]


def golden_lineage() -> dict[str, list[dg.TableColumnDep]]:
    """Each golden attribute (and its `_source` record id) from the clean profiles' column of
    the same name, chosen among the entity's records by a survivorship rule."""
    lineage = {"entity_id": _deps(ENTITIES, "entity_id")}
    for attribute in GOLDEN_ATTRIBUTES:
        lineage[attribute] = [*_deps(CLEAN_PROFILES, attribute, "updated_at"),
                              *_deps(ENTITIES, "entity_id")]
        lineage[f"{attribute}_source"] = _deps(CLEAN_PROFILES, "record_id")
    lineage["record_count"] = _deps(ENTITIES, "record_id")
    return lineage


def features_lineage() -> dict[str, list[dg.TableColumnDep]]:
    orders = _deps(CLEAN_ORDERS, "contact_record_id", "amount", "status", "order_date")
    engagement = [*_deps(CLEAN_EVENTS, "email", "event_type", "occurred_at"),
                  *_deps(GOLDEN, "email")]
    return {
        "entity_id": _deps(ENTITIES, "entity_id"),
        "order_count": orders, "lifetime_value": orders, "last_order_date": orders,
        "recency_days": orders, "r_score": orders, "f_score": orders, "m_score": orders,
        "rfm_segment": orders, "opens_90d": engagement, "clicks_90d": engagement,
        "engagement_score": engagement,
        "suppressed": _deps(CLEAN_EVENTS, "email", "event_type"),
    }


def segments_lineage() -> dict[str, list[dg.TableColumnDep]]:
    """`segment` from exactly the feature columns segments.yaml filters on."""
    fields = sorted({rule.field for segment in load_segments()
                     for rule in (*segment.all_rules, *segment.any_rules)})
    return {"entity_id": _deps(FEATURES, "entity_id"), "segment": _deps(FEATURES, *fields)}


def payload_lineage() -> dict[str, list[dg.TableColumnDep]]:
    return {
        "email": _deps(AUDIENCE, "email"),
        "subscriber_hash": _deps(AUDIENCE, "email"),
        "merge_fields": [*_deps(AUDIENCE, "first_name", "last_name"),
                         *_deps(FEATURES, "lifetime_value"), *_deps(SEGMENTS, "segment")],
        "tags": _deps(SEGMENTS, "segment"),
    }


LINEAGE = {GOLDEN: golden_lineage, FEATURES: features_lineage, SEGMENTS: segments_lineage,
           PAYLOAD: payload_lineage}


def with_catalog_metadata(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec plus its definition-time table schema and column lineage, where known."""
    extra = {}
    if spec.key in MODELS:
        extra["dagster/column_schema"] = schema_from_model(MODELS[spec.key])
    if spec.key in LINEAGE:
        extra["dagster/column_lineage"] = dg.TableColumnLineage(LINEAGE[spec.key]())
    return spec.replace_attributes(metadata={**spec.metadata, **extra}) if extra else spec


def apply_catalog(defs: dg.Definitions) -> dg.Definitions:
    """Schemas, lineage, code references (the file and line of each asset's function), and the
    automation and freshness policies (defs/observability/policies.py)."""
    unique = list({id(asset): asset for asset in defs.assets or []}.values())
    with warnings.catch_warnings():  # code references are "beta" in Dagster 1.13: noise only
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references(dg.map_asset_specs(
            lambda spec: with_policies(with_catalog_metadata(spec)), unique))
    return dg.Definitions(
        assets=assets, asset_checks=defs.asset_checks, jobs=defs.jobs, schedules=defs.schedules,
        sensors=defs.sensors, resources=defs.resources, executor=defs.executor,
        loggers=defs.loggers, metadata=defs.metadata,
    )
