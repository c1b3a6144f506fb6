"""Why a record sits in its entity: the pairs that link it and each comparison's weight.

The pairs come from `identity.match_pairs` (scored once by the pipeline); the per-comparison
breakdown is recomputed on demand for those few pairs with the model that scored them, so the
pairs table stays lean. Output holds comparison levels and weights, never raw values.
"""

import json
import math

import polars as pl
from splink import Linker

from email_data_platform.lib.identity.linking import splink_connection
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig

EXPLANATION_SCHEMA = {
    "record_id": pl.Utf8,
    "other_record_id": pl.Utf8,
    "same_entity": pl.Boolean,
    "pair_match_weight": pl.Float64,
    "pair_match_probability": pl.Float64,
    "comparison": pl.Utf8,
    "level": pl.Utf8,
    "comparison_match_weight": pl.Float64,
}


def _level_labels(settings: dict) -> dict[str, dict[int, str]]:
    """comparison name -> gamma value -> human label."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in settings["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        by_gamma = {len(levels) - 1 - i: lvl.get("label_for_charts", "") for i, lvl in
                    enumerate(levels)}
        by_gamma[-1] = "missing on one side"
        labels[comparison["output_column_name"]] = by_gamma
    return labels


def explain_pairs(record: pl.DataFrame, others: pl.DataFrame, settings: dict) -> pl.DataFrame:
    """Score `record` (one matching-frame row) against `others`, one row per comparison.

    Returns columns record_id, other_record_id, pair_match_weight, pair_match_probability,
    comparison, level, comparison_match_weight (log2 of its Bayes factor).
    """
    detailed = {**settings, "retain_intermediate_calculation_columns": True,
                "retain_matching_columns": False}
    with splink_connection() as db_api:
        left = db_api.register(record.to_arrow(), table_name="explained_record")
        right = db_api.register(others.to_arrow(), table_name="explained_partners")
        linker = Linker(left, detailed, log_level=None)
        scored = pl.from_arrow(linker.inference.score_pairs(left, right).as_pyarrow_table())
    labels = _level_labels(settings)
    parts = []
    for name, by_gamma in labels.items():
        parts.append(scored.select(
            pl.col("record_id_l").alias("record_id"),
            pl.col("record_id_r").alias("other_record_id"),
            pl.col("match_weight").cast(pl.Float64).alias("pair_match_weight"),
            pl.col("match_probability").cast(pl.Float64).alias("pair_match_probability"),
            pl.lit(name).alias("comparison"),
            pl.col(f"gamma_{name}").replace_strict(by_gamma, default="", return_dtype=pl.Utf8)
            .alias("level"),
            pl.col(f"mw_{name}").cast(pl.Float64).alias("comparison_match_weight"),
        ))
    return pl.concat(parts).sort("pair_match_weight", "other_record_id", "comparison",
                                 descending=[True, False, False])


def _scoring_model(warehouse) -> str:
    """Settings JSON of the model that scored the current pairs (the newest may be newer)."""
    if warehouse.exists("identity.link_state"):
        scored_by = warehouse.query(
            "select m.settings_json from identity.splink_model m join identity.link_state s"
            " using (model_version)")
        if scored_by.height:
            return scored_by["settings_json"][0]
    return warehouse.query(
        "select settings_json from identity.splink_model order by trained_at desc limit 1"
    )["settings_json"][0]


def explain_record(warehouse, record_id: str) -> pl.DataFrame:
    """For `record_id`: every scored pair that involves it, with each comparison's weight.

    Args:
        warehouse: a `DuckDBWarehouse` (or anything with `query` and `exists`).
        record_id: e.g. `hubspot:123`.

    Raises:
        LookupError: the record is not in `identity.entities`.
    """
    entity = warehouse.query(
        "select entity_id from identity.entities where record_id = ?", [record_id]
    )
    if entity.height == 0:
        raise LookupError(f"record {record_id!r} is not in identity.entities; run identity first")
    entity_id = entity["entity_id"][0]
    pairs = warehouse.query(
        "select case when record_id_l = ? then record_id_r else record_id_l end as other"
        " from identity.match_pairs where record_id_l = ? or record_id_r = ?",
        [record_id, record_id, record_id],
    )
    members = warehouse.query(
        "select record_id from identity.entities where entity_id = ? and record_id <> ?",
        [entity_id, record_id],
    )
    partner_ids = pl.concat([pairs["other"], members["record_id"]]).unique().to_list()
    if not partner_ids:
        return pl.DataFrame(schema=EXPLANATION_SCHEMA)
    profiles = warehouse.query(
        "select * from profiles.clean_profiles where list_contains(?, record_id)",
        [[record_id, *partner_ids]],
    )
    frame, _ = prepare_matching_frame(profiles)
    settings = json.loads(_scoring_model(warehouse))
    detail = explain_pairs(frame.filter(pl.col("record_id") == record_id),
                           frame.filter(pl.col("record_id") != record_id), settings)
    same = warehouse.query(
        "select record_id as other_record_id, entity_id = ? as same_entity"
        " from identity.entities where list_contains(?, record_id)", [entity_id, partner_ids])
    return detail.join(same, on="other_record_id", how="left").select(EXPLANATION_SCHEMA.keys())


def match_threshold_weight(probability: float = IdentityConfig.match_threshold) -> float:
    """The match weight equivalent of a probability threshold (for readers of the table)."""
    return math.log2(probability / (1 - probability))
