"""Identity stage assets: the trained model, scored pairs, entities and golden profiles.

When retraining happens: `identity/splink_model` sits in the main graph so a fresh warehouse
gets a model on its first run, but it only trains when no model exists, the current one is
older than `model_max_age_days`, or a run asks for it (`force_retrain`, which the weekly
`identity_retrain_job` schedule does). Otherwise it reuses the current version in seconds.
"""

import json

import dagster as dg

from email_data_platform.defs.identity.resources import IdentityResource
from email_data_platform.defs.metadata import OWNERS, table_schema
from email_data_platform.defs.warehouse import ArtifactsResource, WarehouseResource
from email_data_platform.lib.identity import stage
from email_data_platform.lib.identity.checks import cluster_sizes
from email_data_platform.lib.markdown import frame_to_markdown

CLEAN_PROFILES = dg.AssetKey(["profiles", "clean_profiles"])
KINDS = {"splink", "duckdb", "polars"}


class SplinkModelConfig(dg.Config):
    force_retrain: bool = False


@dg.asset(
    key=["identity", "splink_model"],
    group_name="identity",
    deps=[CLEAN_PROFILES],
    owners=OWNERS,
    kinds=KINDS,
    tags={"stage": "identity", "pii": "false"},
)
def splink_model(
    config: SplinkModelConfig,
    warehouse: WarehouseResource,
    artifacts: ArtifactsResource,
    identity: IdentityResource,
) -> dg.MaterializeResult:
    """The matching model that decides whether two customer records are the same person.

    Learned without labels from a sample of clean profiles: how much agreeing (or disagreeing)
    names, emails, phones, birthdays and addresses say about two records being one person.
    One row per trained version, with the saved model file and its charts. Retrained weekly or
    on demand; ordinary runs reuse the current version.
    """
    # `path` creates the folder; the model files are named after their version inside it.
    model_dir = artifacts.path("models", "splink_model.json").parent
    row = stage.ensure_model(warehouse.get(), model_dir, identity.config(),
                             config.force_retrain, identity.model_max_age_days)
    charts = json.loads(row["chart_paths"])
    metadata = {
        "dagster/row_count": warehouse.get().row_count(stage.MODEL),
        "model_version": row["model_version"],
        "retrained": row["retrained"],
        "trained_at": str(row["trained_at"]),
        "model_path": dg.MetadataValue.path(row["model_path"]),
        **{f"chart_{name}": dg.MetadataValue.path(path) for name, path in charts.items()},
    }
    for key in ("training_rows", "training_seconds", "u_seconds", "em_seconds",
                "probability_two_random_records_match"):
        if row.get(key) is not None:
            metadata[key] = float(row[key])
    return dg.MaterializeResult(metadata=metadata)


class MatchPairsConfig(dg.Config):
    mode: str = ""  # empty: the identity resource's mode (auto)


@dg.asset(
    key=["identity", "match_pairs"],
    group_name="identity",
    deps=[splink_model, CLEAN_PROFILES],
    owners=OWNERS,
    kinds=KINDS,
    tags={"stage": "identity", "pii": "false"},  # record ids and scores only
)
def match_pairs(
    config: MatchPairsConfig, warehouse: WarehouseResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """Pairs of customer records that might be the same person, each scored once.

    Only plausible pairs are compared (same email, same phone, same name and birthday...),
    and a cap stops the run clearly if those rules would compare too many. Daily runs score
    only new and changed records against everyone; a full re-link reconciles weekly.
    """
    summary = stage.link_pairs(warehouse.get(), identity.config(), config.mode or identity.mode)
    metadata = {"dagster/row_count": summary.pop("pairs_total"),
                "comparison_cap": identity.max_comparisons}
    comparisons = summary.pop("comparisons_by_rule", None)
    if comparisons is not None:  # full runs count every rule before scoring
        metadata["comparisons_by_blocking_rule"] = dg.MetadataValue.md(
            frame_to_markdown(comparisons))
        metadata["comparisons_total"] = int(comparisons["comparisons"].sum())
        metadata["junk_identifiers_nulled"] = dg.MetadataValue.json(
            summary.pop("junk_identifiers_nulled"))
    return dg.MaterializeResult(metadata={**metadata, **summary})


@dg.asset(
    key=["identity", "entities"],
    group_name="identity",
    deps=[match_pairs],
    owners=OWNERS,
    kinds=KINDS,
    tags={"stage": "identity", "pii": "false"},
)
def entities(warehouse: WarehouseResource, identity: IdentityResource) -> dg.MaterializeResult:
    """Which customer records belong to the same person: one row per record with its entity id.

    Entity ids are stable: a record keeps its id unless its group really changes. When two
    groups merge the older id survives (the other is kept in identity.entity_aliases); when a
    group splits the larger part keeps the id.
    """
    wh = warehouse.get()
    summary = stage.resolve_entities(wh, identity.config())
    head = wh.query(f"select * from {stage.ENTITIES} limit 5")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": summary["records"],
        "dagster/column_schema": table_schema(head),
        **summary,
        "cluster_sizes": dg.MetadataValue.json(cluster_sizes(wh)),
        "preview": dg.MetadataValue.md(frame_to_markdown(head)),
    })


@dg.asset(
    key=["identity", "golden_profiles"],
    group_name="identity",
    deps=[entities],
    owners=OWNERS,
    kinds=KINDS,
    tags={"stage": "identity", "pii": "true"},
)
def golden_profiles(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The best-known version of each person: one row per entity.

    Each field is chosen by a rule (latest contact details, the name most records agree on,
    the most trusted source for company) and names the source record it came from.
    """
    wh = warehouse.get()
    summary = stage.build_golden(wh)
    golden = wh.query(f"select * from {stage.GOLDEN} limit 5")
    provenance = [c for c in golden.columns if c.endswith("_source")]
    multi = wh.query(f"select count(*) as n from {stage.GOLDEN} where record_count > 1")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": summary.pop("rows"),
        "dagster/column_schema": table_schema(golden),
        **summary,
        "multi_record_entities": int(multi["n"][0]),
        # Provenance only: the preview must not show raw personal data.
        "preview": dg.MetadataValue.md(
            frame_to_markdown(golden.select("entity_id", "record_count", *provenance).head(5))
        ),
    })
