"""Identity checks: bad identity must not reach consent, audiences or the ESP (blocking)."""

import dagster as dg
import polars as pl

from email_data_platform.defs.identity.assets import entities, golden_profiles, match_pairs
from email_data_platform.defs.identity.resources import IdentityResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.identity import stage
from email_data_platform.lib.identity.checks import (
    cluster_sizes,
    entity_coverage,
    golden_problems,
    pair_problems,
)
from email_data_platform.lib.identity.evaluation import evaluate


@dg.asset_check(asset=entities, blocking=True,
                description="Every clean profile has exactly one entity, and nothing else does.")
def every_clean_record_has_one_entity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    problems = entity_coverage(warehouse.get())
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


@dg.asset_check(asset=entities, blocking=True,
                description="No mega-cluster: a junk identifier merging strangers stops the run.")
def no_oversized_entities(
    warehouse: WarehouseResource, identity: IdentityResource
) -> dg.AssetCheckResult:
    sizes = cluster_sizes(warehouse.get())
    return dg.AssetCheckResult(
        passed=sizes["largest"] <= identity.max_cluster_size,
        metadata={**sizes, "max_cluster_size": identity.max_cluster_size},
    )


@dg.asset_check(asset=entities, blocking=False,
                description="Pairwise and cluster precision/recall/F1 against ground truth, "
                            "when a truth file is configured (generated data only).")
def quality_against_truth(
    warehouse: WarehouseResource, identity: IdentityResource
) -> dg.AssetCheckResult:
    truth_path = identity.resolved_truth_path()
    if truth_path is None:
        return dg.AssetCheckResult(passed=True, metadata={"evaluated": False})
    metrics = evaluate(warehouse.get().read(stage.ENTITIES), pl.read_parquet(truth_path))
    passed = metrics["pairwise_f1"] >= 0.95 and metrics["cluster_f1"] >= 0.95
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN,
        metadata={"evaluated": True, "truth_path": truth_path, **metrics},
    )


@dg.asset_check(asset=match_pairs, blocking=True,
                description="Pairs are unique, ordered, never self-pairs, probabilities in [0,1].")
def match_pairs_are_well_formed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    problems = pair_problems(warehouse.get())
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)


@dg.asset_check(asset=golden_profiles, blocking=True,
                description="Exactly one golden profile per entity.")
def one_golden_profile_per_entity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    problems = golden_problems(warehouse.get())
    return dg.AssetCheckResult(passed=not any(problems.values()), metadata=problems)
