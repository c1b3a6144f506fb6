"""Entity ids that stay put across runs.

Rules (issue 5): a record keeps its entity id unless its cluster really changes. When clusters
merge, the oldest id survives and the others become aliases of it. When a cluster splits, the
part holding most of the old records keeps the id. New clusters get new ids. Because every
decision depends on set overlaps and never on row order, a re-run with shuffled input returns
the same ids.
"""

import hashlib
import logging
from datetime import datetime

import polars as pl

logger = logging.getLogger(__name__)

ENTITY_SCHEMA = {
    "record_id": pl.Utf8,
    "entity_id": pl.Utf8,
    "entity_first_seen_at": pl.Datetime("us", "UTC"),
}
ALIAS_SCHEMA = {
    "alias_entity_id": pl.Utf8,
    "entity_id": pl.Utf8,
    "reason": pl.Utf8,
    "recorded_at": pl.Datetime("us", "UTC"),
}


def conform(frame: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """Select and cast to `schema`: warehouse reads come back as e.g. Datetime('Etc/UTC')."""
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def mint_entity_id(seed: str) -> str:
    """A new entity id derived from its cluster's smallest record id (order-independent)."""
    return "ent_" + hashlib.sha256(seed.encode()).hexdigest()[:16]


def _claims(clusters: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Each previous entity is claimed by the cluster holding most of its records."""
    overlap = (
        clusters.join(previous, on="record_id")
        .group_by("cluster_id", "entity_id")
        .agg(pl.len().alias("shared"), pl.col("entity_first_seen_at").min())
    )
    return overlap.sort(
        ["entity_id", "shared", "cluster_id"], descending=[False, True, False]
    ).unique("entity_id", keep="first")


def _mint_new_ids(unclaimed: pl.Series, used: pl.Series, is_taken=None) -> pl.DataFrame:
    """Ids for clusters that inherit none; salted until they collide with no id ever used."""
    # map_elements (batched) rather than a list of every seed: a full run mints ~700k ids.
    minted = pl.DataFrame({"cluster_id": unclaimed}).with_columns(
        pl.col("cluster_id").map_elements(mint_entity_id, return_dtype=pl.Utf8).alias("entity_id")
    )
    salt = 0
    while True:
        clash = minted["entity_id"].is_in(used.implode()) | minted["entity_id"].is_duplicated()
        if is_taken is not None:
            clash = clash | is_taken(minted["entity_id"])
        if not clash.any():
            return minted
        salt += 1
        minted = minted.with_columns(
            pl.when(clash)
            .then((pl.col("cluster_id") + f"#{salt}").map_elements(
                mint_entity_id, return_dtype=pl.Utf8))
            .otherwise(pl.col("entity_id"))
            .alias("entity_id")
        )


def assign_stable_ids(
    clusters: pl.DataFrame,
    previous: pl.DataFrame | None,
    now: datetime,
    retired_ids: pl.Series | None = None,
    is_taken=None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give each cluster an entity id, reusing previous ids by the rules above.

    Args:
        clusters: `record_id`, `cluster_id` for this run.
        previous: last run's `record_id`, `entity_id`, `entity_first_seen_at` (None on run 1).
        now: timestamp for new entities and alias records.
        retired_ids: ids that must never be minted again (earlier aliases).
        is_taken: optional callable checking candidate ids against ids held elsewhere (the
            warehouse), for runs that only see part of the population.

    Returns:
        (entities with ENTITY_SCHEMA columns, new aliases with ALIAS_SCHEMA columns).
    """
    previous = previous if previous is not None else pl.DataFrame(schema=ENTITY_SCHEMA)
    previous = conform(previous, ENTITY_SCHEMA)
    claims = _claims(clusters, previous)
    # The oldest claimed id survives; ties broken by id so the choice is deterministic.
    ranked = claims.sort(["cluster_id", "entity_first_seen_at", "entity_id"])
    survivors = ranked.unique("cluster_id", keep="first").select(
        "cluster_id", "entity_id", "entity_first_seen_at"
    )
    merged_away = ranked.join(survivors, on=["cluster_id", "entity_id"], how="anti")
    aliases = merged_away.join(survivors, on="cluster_id", suffix="_survivor").select(
        pl.col("entity_id").alias("alias_entity_id"),
        pl.col("entity_id_survivor").alias("entity_id"),
        pl.lit("merged").alias("reason"),
        pl.lit(now).cast(ALIAS_SCHEMA["recorded_at"]).alias("recorded_at"),
    )
    unclaimed = clusters.select("cluster_id").unique().join(survivors, on="cluster_id", how="anti")
    used = previous["entity_id"].cast(pl.Utf8)
    if retired_ids is not None:
        used = pl.concat([used, retired_ids.cast(pl.Utf8)])
    minted = _mint_new_ids(unclaimed["cluster_id"], used, is_taken).with_columns(
        pl.lit(now).cast(ENTITY_SCHEMA["entity_first_seen_at"]).alias("entity_first_seen_at")
    )
    ids = pl.concat([survivors, minted.select(survivors.columns)])
    entities = clusters.join(ids, on="cluster_id").select(ENTITY_SCHEMA.keys())
    logger.info(
        "entity ids: %d kept, %d merged away, %d new",
        survivors.height, aliases.height, minted.height,
    )
    return entities, aliases


def update_aliases(existing: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    """Append new aliases and re-point old ones whose target has itself been merged away."""
    existing = conform(existing, ALIAS_SCHEMA) if existing is not None else pl.DataFrame(
        schema=ALIAS_SCHEMA)
    target_of = new.select(pl.col("alias_entity_id").alias("entity_id"),
                           pl.col("entity_id").alias("new_target"))
    repointed = existing.join(target_of, on="entity_id", how="left").with_columns(
        pl.coalesce("new_target", "entity_id").alias("entity_id")
    ).drop("new_target")
    return pl.concat([conform(repointed, ALIAS_SCHEMA), conform(new, ALIAS_SCHEMA)])


def summarise_id_changes(previous: pl.DataFrame | None, current: pl.DataFrame) -> dict[str, int]:
    """How many records kept, changed or got their first entity id in this run."""
    if previous is None or previous.height == 0:
        return {"records_kept_id": 0, "records_changed_id": 0, "records_new": current.height}
    joined = current.join(previous.select("record_id", pl.col("entity_id").alias("before")),
                          on="record_id", how="left")
    return {
        "records_kept_id": joined.filter(pl.col("before") == pl.col("entity_id")).height,
        "records_changed_id": joined.filter(pl.col("before") != pl.col("entity_id")).height,
        "records_new": joined.filter(pl.col("before").is_null()).height,
    }
