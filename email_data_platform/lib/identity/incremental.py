"""Incremental linking against the warehouse: touch only what new and changed records reach.

A daily delta is small next to the population, so nothing here reads a whole table into
memory: the delta is found in SQL, existing profiles are read only when their stored blocking
keys (`blocking_keys`) match a delta record's (the only ones blocking could pair with it), and
entities are updated by upserting the records whose entity was touched.
"""

import logging
from datetime import datetime

import polars as pl

from email_data_platform.lib.identity import blocking_keys, scoring_sql
from email_data_platform.lib.identity.linking import score_new_pairs
from email_data_platform.lib.identity.matching import SOURCE_COLUMNS, prepare_matching_frame
from email_data_platform.lib.identity.resolve import ENTITIES_SCHEMA, Delta, resolve_incremental
from email_data_platform.lib.identity.settings import IdentityConfig

logger = logging.getLogger(__name__)

PROFILES = "profiles.clean_profiles"
PAIRS = "identity.match_pairs"
ENTITIES = "identity.entities"


DELTA = "identity.link_delta"


def find_delta_in_warehouse(warehouse) -> Delta:
    """New or updated clean profiles, and entity rows whose profile is gone, found in SQL."""
    # One full join rather than a join and an anti-join: each reads both 1M-row tables.
    rows = warehouse.query(
        f"select record_id, p.updated_at, p.record_id is null as removed,"
        f" e.record_id is not null as linked from {PROFILES} p"
        f" full join {ENTITIES} e using (record_id) where p.record_id is null"
        " or e.record_id is null or p.updated_at is distinct from e.record_updated_at")
    changed = rows.filter(~pl.col("removed"))
    return Delta(changed["record_id"], rows.filter(pl.col("removed"))["record_id"],
                 _stamps(changed), changed.filter(pl.col("linked"))["record_id"])


def _stamps(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(pl.col("record_id").cast(pl.Utf8),
                       pl.col("updated_at").cast(ENTITIES_SCHEMA["record_updated_at"]))


def save_delta(warehouse, delta: Delta) -> None:
    """Hand the delta (with the changed records' updated_at, so entities need not read the
    profiles again) from match_pairs to entities, so it is computed once per run."""
    changed = (_stamps(delta.changed_stamps) if delta.changed_stamps is not None
               else delta.changed_ids.cast(pl.Utf8).to_frame("record_id").with_columns(
                   updated_at=pl.lit(None, ENTITIES_SCHEMA["record_updated_at"])))
    removed = _stamps(delta.removed_ids.cast(pl.Utf8).to_frame("record_id").with_columns(
        updated_at=pl.lit(None)))
    if delta.linked_ids is not None:  # "new": not linked before; "changed": linked before
        changed = changed.with_columns(change=pl.when(pl.col("record_id").is_in(
            delta.linked_ids.cast(pl.Utf8).implode())).then(pl.lit("changed")).otherwise(
            pl.lit("new")))
    else:
        changed = changed.with_columns(change=pl.lit("changed"))
    # Each part cast before stacking: an empty id Series may come back typed Null.
    warehouse.write(DELTA, pl.concat([changed, removed.with_columns(change=pl.lit("removed"))]))


def load_delta(warehouse) -> Delta:
    rows = warehouse.read(DELTA)
    changed = rows.filter(pl.col("change").is_in(["changed", "new"]))
    stamped = "updated_at" in rows.columns and changed["updated_at"].null_count() == 0
    return Delta(changed["record_id"], rows.filter(pl.col("change") == "removed")["record_id"],
                 _stamps(changed) if stamped else None,
                 changed.filter(pl.col("change") == "changed")["record_id"])


def candidate_profiles(warehouse, delta_frame: pl.DataFrame, rules) -> pl.DataFrame:
    """Clean profiles outside the delta sharing at least one blocking key with a delta record.

    Looked up in the stored blocking keys (rebuilt first if stale), so the population's keys
    are not derived again on every run and only the candidates' profiles are read.
    """
    blocking_keys.ensure_keys(warehouse, rules)
    frames = blocking_keys.delta_keys(delta_frame, rules)
    if not frames:
        return warehouse.query(f"select {', '.join(SOURCE_COLUMNS)} from {PROFILES} limit 0")
    with warehouse.transaction([], __delta=delta_frame.select("record_id"), **frames) as con:
        return pl.from_arrow(con.execute(blocking_keys.candidate_sql(frames)).to_arrow_table())


def store_pairs(warehouse, delta: Delta, profiles: pl.DataFrame, pairs: pl.DataFrame,
                 rules) -> None:
    """Swap the delta's pairs and stored blocking keys in one transaction: one round trip,
    and keys never disagree with the pairs they were linked with. Records never linked have
    nothing stored to delete, so a delta of new records skips the deletes (a scan of each
    table)."""
    stale = delta.stale_ids.to_frame("record_id")
    keys = blocking_keys.population_keys(profiles, rules)
    with warehouse.transaction(["identity"], __stale=stale, __pairs=pairs, __keys=keys) as con:
        if stale.height:
            con.execute(f"delete from {PAIRS} where record_id_l in"
                        " (select record_id from __stale)"
                        " or record_id_r in (select record_id from __stale)")
        con.execute(f"insert into {PAIRS} by name select * from __pairs")
        for statement in blocking_keys.replace_keys_sql(delete=stale.height > 0):
            con.execute(statement)


def _query(warehouse, sql: str, ids: pl.Series) -> pl.DataFrame:
    """A read with `ids` registered as relation `__ids` (column record_id): binding 10k+ ids
    as a list parameter costs ~0.7 us each, several ms per query; registering, almost none."""
    with warehouse.transaction([], __ids=ids.cast(pl.Utf8).to_frame("record_id")) as con:
        return pl.from_arrow(con.execute(sql).to_arrow_table())


_IN_IDS = "in (select record_id from __ids)"


def link_delta(warehouse, delta: Delta, settings: dict, config: IdentityConfig) -> pl.DataFrame:
    """Score delta x delta and delta x existing pairs; replace the delta's pairs."""
    profiles = _query(warehouse, f"select {', '.join(SOURCE_COLUMNS)} from {PROFILES}"
                                 f" where record_id {_IN_IDS}", delta.changed_ids)
    first_pass, _ = prepare_matching_frame(profiles)
    candidates = candidate_profiles(warehouse, first_pass, config.blocking_rules)
    # Prepared together: candidates hold every existing record with a delta email or phone
    # (both are blocking keys), so identifiers shared by too many people are found as in a
    # full run.
    frame, _ = prepare_matching_frame(pl.concat([profiles, candidates], how="vertical_relaxed"))
    is_delta = pl.col("record_id").is_in(delta.changed_ids.implode())
    pairs = score_new_pairs(frame.filter(~is_delta), frame.filter(is_delta), settings, config,
                            scoring_sql.StoredStatements(warehouse))
    store_pairs(warehouse, delta, profiles, pairs, config.blocking_rules)
    save_delta(warehouse, delta)
    logger.info("incremental link: %d delta records, %d candidates, %d pairs scored",
                delta.size, candidates.height, pairs.height)
    return pairs


def _touched_entities(warehouse, delta: Delta, new_pairs: pl.DataFrame) -> pl.DataFrame:
    """Entity rows of every entity a delta record belongs to or is paired with."""
    reached = pl.concat([new_pairs["record_id_l"], new_pairs["record_id_r"],
                         delta.changed_ids]).unique()
    return _query(warehouse, f"select * from {ENTITIES} where entity_id in (select entity_id"
                             f" from {ENTITIES} where record_id {_IN_IDS})", reached)


def _updated_at(warehouse, delta: Delta, touched: pl.DataFrame) -> pl.DataFrame:
    """record_id, updated_at of the delta and touched records. A touched record outside the
    delta was linked at its current updated_at (else the delta would hold it), so with the
    delta's stamps kept no read of the 1M profiles is needed."""
    if delta.changed_stamps is None:
        return _query(warehouse, f"select record_id, updated_at from {PROFILES}"
                                 f" where record_id {_IN_IDS}",
                      pl.concat([delta.changed_ids, touched["record_id"]]).unique())
    settled = touched.join(delta.changed_stamps, on="record_id", how="anti").join(
        delta.removed_ids.cast(pl.Utf8).to_frame("record_id"), on="record_id", how="anti")
    return pl.concat([delta.changed_stamps, _stamps(settled.rename(
        {"record_updated_at": "updated_at"}))])


def resolve_delta(warehouse, delta: Delta, aliases: pl.DataFrame | None, threshold: float,
                  now: datetime) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Re-cluster the entities a delta touches. Returns (rows before, rows after, aliases);
    the caller upserts rows after and deletes removed records."""
    new_pairs = _query(warehouse, f"select * from {PAIRS} where record_id_l {_IN_IDS}"
                                  f" or record_id_r {_IN_IDS}", delta.changed_ids)
    touched = _touched_entities(warehouse, delta, new_pairs)
    profiles = _updated_at(warehouse, delta, touched)

    def taken(candidates: pl.Series) -> pl.Series:
        """Which candidate new ids an entity outside the touched ones already uses."""
        in_use = _query(warehouse, f"select distinct entity_id from {ENTITIES}"
                                   f" where entity_id {_IN_IDS}", candidates)["entity_id"]
        return candidates.is_in(in_use.implode())

    after, aliases = resolve_incremental(profiles, new_pairs, touched, aliases, delta,
                                         threshold, now, is_taken=taken)
    return touched, after.select(ENTITIES_SCHEMA.keys()), aliases
