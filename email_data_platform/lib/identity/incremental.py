"""Incremental linking against the warehouse: touch only what new and changed records reach.

A daily delta is small next to the population, so nothing here reads a whole table into
memory: the delta is found in SQL, existing records come from `identity.matching_records` only
when they share a blocking key with a delta record (the only ones blocking could pair with it),
and entities are updated by upserting the records whose entity was touched.
"""

import logging
from datetime import datetime

import polars as pl

from email_data_platform.lib.identity.junk import shared_identifiers
from email_data_platform.lib.identity.linking import score_new_pairs
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.resolve import ENTITIES_SCHEMA, Delta, resolve_incremental
from email_data_platform.lib.identity.settings import BlockingRule, IdentityConfig

logger = logging.getLogger(__name__)

PROFILES = "profiles.clean_profiles"
MATCHING = "identity.matching_records"
PAIRS = "identity.match_pairs"
ENTITIES = "identity.entities"
_IN_LIST = "in (select unnest(?::varchar[]))"


DELTA = "identity.link_delta"


def find_delta_in_warehouse(warehouse) -> Delta:
    """New or updated clean profiles, and entity rows whose profile is gone, found in SQL."""
    changed = warehouse.query(
        f"select p.record_id from {PROFILES} p left join {ENTITIES} e using (record_id)"
        " where e.record_id is null or p.updated_at is distinct from e.record_updated_at")
    removed = warehouse.query(
        f"select e.record_id from {ENTITIES} e anti join {PROFILES} p using (record_id)")
    return Delta(changed["record_id"], removed["record_id"])


def save_delta(warehouse, delta: Delta) -> None:
    """Hand the delta from match_pairs to entities, so it is computed once per run."""
    warehouse.write(DELTA, pl.concat([
        pl.DataFrame({"record_id": delta.changed_ids, "change": "changed"}),
        pl.DataFrame({"record_id": delta.removed_ids, "change": "removed"}),
    ]).cast({"record_id": pl.Utf8, "change": pl.Utf8}))


def load_delta(warehouse) -> Delta:
    rows = warehouse.read(DELTA)
    changed = rows.filter(pl.col("change") == "changed")["record_id"]
    return Delta(changed, rows.filter(pl.col("change") == "removed")["record_id"])


def _rule_keys(rule: BlockingRule) -> tuple[list[str], list[str]]:
    """(delta columns, existing columns) that must be equal for the rule to pair two records."""
    columns = list(rule.columns)
    if rule.swapped:
        return ["first_name", "last_name", *columns], ["last_name", "first_name", *columns]
    return columns, columns


def candidate_records(warehouse, delta_frame: pl.DataFrame, rules) -> pl.DataFrame:
    """Existing matching records that share at least one blocking key with a delta record.

    One hash semi-join per rule on the stored columns, so the scan of the population costs a
    few column reads rather than building key strings for every row.
    """
    selects, params = [], []
    for rule in rules:
        delta_columns, existing_columns = _rule_keys(rule)
        keys = delta_frame.select(delta_columns).drop_nulls().unique()
        if keys.height == 0:
            continue
        unnests = ", ".join(f"unnest(?::varchar[]) as k{i}" for i in range(len(delta_columns)))
        on = " and ".join(f'm."{c}" = k.k{i}' for i, c in enumerate(existing_columns))
        selects.append(f"select m.record_id from {MATCHING} m semi join"
                       f" (select {unnests}) k on {on}")
        params += [keys[c].to_list() for c in delta_columns]
    if not selects:
        return warehouse.query(f"select * from {MATCHING} limit 0")
    sql = (f"select * from {MATCHING} where record_id in ({' union '.join(selects)})"
           f" and record_id not {_IN_LIST}")
    return warehouse.query(sql, [*params, delta_frame["record_id"].to_list()])


def _null_newly_shared(delta_frame: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """Null delta identifiers that, with the records already holding them, are shared by too
    many people. Candidates hold every existing record with a delta email or phone (both are
    blocking keys), so the count is the population's."""
    both = pl.concat([candidates, delta_frame], how="vertical_relaxed")
    shared_emails = shared_identifiers(both, "email_key").implode()
    shared_phones = shared_identifiers(both, "phone").implode()
    return delta_frame.with_columns(
        pl.when(~pl.col("email_key").is_in(shared_emails).fill_null(False))
        .then(pl.col("email_key")).alias("email_key"),
        pl.when(~pl.col("phone").is_in(shared_phones).fill_null(False))
        .then(pl.col("phone")).alias("phone"),
    )


def link_delta(warehouse, delta: Delta, settings: dict, config: IdentityConfig) -> pl.DataFrame:
    """Score delta x delta and delta x existing pairs; update pairs and matching records."""
    ids = delta.changed_ids.to_list()
    profiles = warehouse.query(f"select * from {PROFILES} where record_id {_IN_LIST}", [ids])
    delta_frame, _ = prepare_matching_frame(profiles)
    candidates = candidate_records(warehouse, delta_frame, config.blocking_rules)
    delta_frame = _null_newly_shared(delta_frame, candidates)
    pairs = score_new_pairs(candidates, delta_frame, settings, config)
    stale = [*ids, *delta.removed_ids.to_list()]
    warehouse.execute(f"delete from {PAIRS} where record_id_l {_IN_LIST} or record_id_r "
                      f"{_IN_LIST}", [stale, stale])
    warehouse.write(PAIRS, pairs, mode="append")
    warehouse.execute(f"delete from {MATCHING} where record_id {_IN_LIST}", [stale])
    warehouse.write(MATCHING, delta_frame, mode="append")
    save_delta(warehouse, delta)
    logger.info("incremental link: %d delta records, %d candidates, %d pairs scored",
                len(ids), candidates.height, pairs.height)
    return pairs


def _touched_entities(warehouse, delta: Delta, new_pairs: pl.DataFrame) -> pl.DataFrame:
    """Entity rows of every entity a delta record belongs to or is paired with."""
    reached = pl.concat([new_pairs["record_id_l"], new_pairs["record_id_r"],
                         delta.changed_ids]).unique().to_list()
    return warehouse.query(
        f"select * from {ENTITIES} where entity_id in (select entity_id from {ENTITIES}"
        f" where record_id {_IN_LIST})", [reached])


def resolve_delta(warehouse, delta: Delta, aliases: pl.DataFrame | None, threshold: float,
                  now: datetime) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Re-cluster the entities a delta touches. Returns (rows before, rows after, aliases);
    the caller upserts rows after and deletes removed records."""
    ids = delta.changed_ids.to_list()
    new_pairs = warehouse.query(
        f"select * from {PAIRS} where record_id_l {_IN_LIST} or record_id_r {_IN_LIST}",
        [ids, ids])
    touched = _touched_entities(warehouse, delta, new_pairs)
    profiles = warehouse.query(
        f"select record_id, updated_at from {PROFILES} where record_id {_IN_LIST}",
        [[*ids, *touched["record_id"].to_list()]])

    def taken(candidates: pl.Series) -> pl.Series:
        """Which candidate new ids an entity outside the touched ones already uses."""
        in_use = warehouse.query(
            f"select distinct entity_id from {ENTITIES} where entity_id {_IN_LIST}",
            [candidates.to_list()])["entity_id"]
        return candidates.is_in(in_use.implode())

    after, aliases = resolve_incremental(profiles, new_pairs, touched, aliases, delta,
                                         threshold, now, is_taken=taken)
    return touched, after.select(ENTITIES_SCHEMA.keys()), aliases
