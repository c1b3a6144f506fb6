"""Quality of resolved entities against ground truth (the generator's true person ids).

Pairwise scores count record pairs placed together; cluster scores count entities reproduced
exactly. Both come from group sizes, never from materialising pairs, so 1M records cost a few
group-bys.
"""

import polars as pl


def _pairs_in_groups(frame: pl.DataFrame, keys: list[str]) -> int:
    sizes = frame.group_by(keys).len()["len"]
    return int((sizes * (sizes - 1) // 2).sum())


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def align_truth(entities: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Join predicted and true entity per record.

    `truth` may carry `record_id`, or the generator's `id` (the CRM object id), which is matched
    to the part of record_id after the colon.
    """
    truth = truth.rename({"entity_id": "true_entity_id"})
    if "record_id" in truth.columns:
        return entities.select("record_id", "entity_id").join(
            truth.select("record_id", "true_entity_id"), on="record_id"
        )
    keyed = entities.select(
        "record_id", "entity_id", pl.col("record_id").str.split(":").list.last().alias("id")
    )
    return keyed.join(truth.select(pl.col("id").cast(pl.Utf8), "true_entity_id"), on="id")


def evaluate(entities: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """Pairwise and cluster precision, recall and F1 of `entities` against `truth`.

    Args:
        entities: `record_id`, `entity_id` (predicted).
        truth: `entity_id` (true) with `record_id` or the generator's `id`.

    Returns:
        pairwise_/cluster_ precision, recall, f1, and the counts they come from.
    """
    aligned = align_truth(entities, truth)
    predicted_pairs = _pairs_in_groups(aligned, ["entity_id"])
    true_pairs = _pairs_in_groups(aligned, ["true_entity_id"])
    correct_pairs = _pairs_in_groups(aligned, ["entity_id", "true_entity_id"])
    pair_precision = correct_pairs / predicted_pairs if predicted_pairs else 1.0
    pair_recall = correct_pairs / true_pairs if true_pairs else 1.0

    # An entity is exactly right when one true entity and one predicted entity share all
    # their records: the overlap size equals both cluster sizes.
    overlap = aligned.group_by("entity_id", "true_entity_id").len("shared")
    overlap = overlap.join(aligned.group_by("entity_id").len("predicted"), on="entity_id")
    overlap = overlap.join(aligned.group_by("true_entity_id").len("true"), on="true_entity_id")
    exact = overlap.filter(
        (pl.col("shared") == pl.col("predicted")) & (pl.col("shared") == pl.col("true"))
    ).height
    predicted_clusters = aligned["entity_id"].n_unique()
    true_clusters = aligned["true_entity_id"].n_unique()
    cluster_precision = exact / predicted_clusters if predicted_clusters else 1.0
    cluster_recall = exact / true_clusters if true_clusters else 1.0
    return {
        "records_evaluated": aligned.height,
        "pairwise_precision": round(pair_precision, 5),
        "pairwise_recall": round(pair_recall, 5),
        "pairwise_f1": round(_f1(pair_precision, pair_recall), 5),
        "cluster_precision": round(cluster_precision, 5),
        "cluster_recall": round(cluster_recall, 5),
        "cluster_f1": round(_f1(cluster_precision, cluster_recall), 5),
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
        "predicted_clusters": predicted_clusters,
        "true_clusters": true_clusters,
    }

