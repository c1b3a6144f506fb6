"""From scored pairs to entities, in full or incremental mode.

Full mode clusters every record and then maps clusters onto last run's ids. Incremental mode
treats each existing entity as settled and only re-clusters the part of the graph that new or
changed records touch; the scheduled full re-link reconciles any drift (e.g. a deleted record
that used to bridge two halves of an entity).
"""

import logging
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from email_data_platform.lib.identity import engines
from email_data_platform.lib.identity.clustering import cluster_incrementally
from email_data_platform.lib.identity.stable_ids import (
    ENTITY_SCHEMA,
    assign_stable_ids,
    conform,
    update_aliases,
)

logger = logging.getLogger(__name__)

ENTITIES_SCHEMA = {**ENTITY_SCHEMA, "record_updated_at": pl.Datetime("us", "UTC")}


@dataclass
class Delta:
    """Records that need linking this run, and records that left the clean profiles."""

    changed_ids: pl.Series  # new, or updated since they were last linked
    removed_ids: pl.Series
    # record_id, updated_at of the changed records, as found with them (None: not kept).
    changed_stamps: pl.DataFrame | None = None
    # Changed records linked before, so holding stored pairs, keys and an entity row; the
    # rest are new (None: not known, treat every changed record as linked before).
    linked_ids: pl.Series | None = None

    @property
    def stale_ids(self) -> pl.Series:
        """Records whose stored pairs, keys and entity rows this delta replaces or removes."""
        linked = self.changed_ids if self.linked_ids is None else self.linked_ids
        return pl.concat([linked.cast(pl.Utf8), self.removed_ids.cast(pl.Utf8)])

    @property
    def size(self) -> int:
        return self.changed_ids.len()


def choose_mode(requested: str, delta: Delta, population: int,
                max_incremental_fraction: float = 0.2) -> str:
    """`full` or `incremental`, once a previous run exists. `auto` links incrementally when
    the delta is small; a large delta costs about as much as a full run and is safer in full."""
    if requested not in ("auto", "full", "incremental"):
        raise ValueError(f"identity mode must be auto, full or incremental, not {requested!r}")
    if requested == "full":
        return "full"
    if requested == "incremental":
        return "incremental"
    small = delta.size <= max_incremental_fraction * max(population, 1)
    return "incremental" if small else "full"


def _with_updated_at(entities: pl.DataFrame, profiles: pl.DataFrame) -> pl.DataFrame:
    stamped = entities.join(
        profiles.select("record_id", pl.col("updated_at").alias("record_updated_at")),
        on="record_id",
    )
    return stamped.select(
        [pl.col(name).cast(dtype) for name, dtype in ENTITIES_SCHEMA.items()]
    ).sort("record_id")


def resolve_full(
    profiles: pl.DataFrame,
    pairs: pl.DataFrame,
    previous: pl.DataFrame | None,
    previous_aliases: pl.DataFrame | None,
    threshold: float,
    now: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cluster all records and carry ids over from `previous`. Returns (entities, aliases)."""
    clusters = engines.cluster(profiles["record_id"], pairs, threshold)  # EDP_IDENTITY_ENGINE
    retired = previous_aliases["alias_entity_id"] if previous_aliases is not None else None
    entities, new_aliases = assign_stable_ids(clusters, previous, now, retired)
    return _with_updated_at(entities, profiles), update_aliases(previous_aliases, new_aliases)


def resolve_incremental(
    profiles: pl.DataFrame,
    new_pairs: pl.DataFrame,
    previous: pl.DataFrame,
    previous_aliases: pl.DataFrame | None,
    delta: Delta,
    threshold: float,
    now: datetime,
    is_taken=None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Re-cluster only what the delta touches. Returns (entities, aliases).

    Args:
        new_pairs: pairs scored this run (each involves at least one delta record).
        previous: entity rows of (at least) every entity the delta touches.
        is_taken: optional callable, Series of candidate ids -> Boolean Series, true where an
            entity outside `previous` already uses the id (new ids must not reuse it).
    """
    kept = previous.join(pl.DataFrame({"record_id": delta.removed_ids}), on="record_id",
                         how="anti")
    touched = cluster_incrementally(kept, delta.changed_ids, new_pairs, threshold)
    retired = previous_aliases["alias_entity_id"] if previous_aliases is not None else None
    touched_previous = kept.join(touched.select("record_id"), on="record_id")
    # Ids of untouched entities are taken too: a minted id must not collide with them.
    untouched = kept.join(touched.select("record_id"), on="record_id", how="anti")
    retired_all = pl.concat([s for s in (retired, untouched["entity_id"]) if s is not None])
    reassigned, new_aliases = assign_stable_ids(touched, touched_previous, now, retired_all,
                                                is_taken)
    entities = pl.concat([conform(untouched, ENTITY_SCHEMA), conform(reassigned, ENTITY_SCHEMA)])
    logger.info("incremental link: %d records re-clustered, %d untouched",
                reassigned.height, untouched.height)
    return _with_updated_at(entities, profiles), update_aliases(previous_aliases, new_aliases)
