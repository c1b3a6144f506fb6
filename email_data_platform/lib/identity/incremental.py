"""Incremental linking against the warehouse: touch only what new and changed records reach.

A daily delta is small next to the population, so nothing here reads a whole table into
memory: the delta is found in SQL, existing profiles are read only when they share a blocking
key with a delta record (the only ones blocking could pair with it), and entities are updated
by upserting the records whose entity was touched.
"""

import logging
from datetime import datetime

import polars as pl

from email_data_platform.lib.identity.linking import score_new_pairs
from email_data_platform.lib.identity.matching import (
    NICKNAMES,
    SOURCE_COLUMNS,
    prepare_matching_frame,
)
from email_data_platform.lib.identity.resolve import ENTITIES_SCHEMA, Delta, resolve_incremental
from email_data_platform.lib.identity.settings import BlockingRule, IdentityConfig

logger = logging.getLogger(__name__)

PROFILES = "profiles.clean_profiles"
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


def _first_name_variants() -> pl.DataFrame:
    """canonical first name -> every first name that maps to it (itself included)."""
    pairs = [(full, short) for short, full in NICKNAMES.items()]
    pairs += [(full, full) for full in set(NICKNAMES.values())]
    return pl.DataFrame(pairs, schema=["first_name_canonical", "first_name_variant"],
                        orient="row")


def _expand_canonical(keys: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Key rows on first_name_canonical become rows on raw first names (nickname variants
    included), so the population side joins on its stored column instead of a derived one."""
    if "first_name_canonical" not in columns:
        return keys, columns
    expanded = keys.join(_first_name_variants(), on="first_name_canonical", how="left")
    expanded = expanded.with_columns(
        pl.coalesce("first_name_variant", "first_name_canonical").alias("first_name_canonical")
    ).drop("first_name_variant")
    return expanded, [("first_name" if c == "first_name_canonical" else c) for c in columns]


def _profile_column_sql(column: str) -> str:
    """SQL over profiles.clean_profiles computing one matching column as `matching` does."""
    return {
        "date_of_birth": "strftime(date_of_birth, '%Y-%m-%d')",
        "postal_code": "upper(replace(postal_code, ' ', ''))",
        "email_user": "regexp_extract(email_key, '^([^@]+)@', 1)",
    }.get(column, f'"{column}"')


def candidate_profiles(warehouse, delta_frame: pl.DataFrame, rules) -> pl.DataFrame:
    """Clean profiles outside the delta sharing at least one blocking key with a delta record.

    One hash semi-join per rule over the profile columns (matching columns are derived in
    SQL), so the population is scanned column-wise and nothing but the candidates is read.
    """
    selects, params = [], []
    for rule in rules:
        delta_columns, existing_columns = _rule_keys(rule)
        keys = delta_frame.select(delta_columns).drop_nulls().unique()
        if keys.height == 0:
            continue
        keys, existing_columns = _expand_canonical(keys, existing_columns)
        unnests = ", ".join(f"unnest(?::varchar[]) as k{i}" for i in range(len(delta_columns)))
        keyed = ", ".join(f"{_profile_column_sql(c)} as c{i}"
                          for i, c in enumerate(existing_columns))
        on = " and ".join(f"p.c{i} = k.k{i}" for i in range(len(existing_columns)))
        selects.append(f"select p.record_id from (select record_id, {keyed} from {PROFILES})"
                       f" p semi join (select {unnests}) k on {on}")
        params += [keys[c].to_list() for c in delta_columns]
    columns = ", ".join(SOURCE_COLUMNS)
    if not selects:
        return warehouse.query(f"select {columns} from {PROFILES} limit 0")
    sql = (f"select {columns} from {PROFILES} where record_id in ({' union '.join(selects)})"
           f" and record_id not {_IN_LIST}")
    return warehouse.query(sql, [*params, delta_frame["record_id"].to_list()])


def link_delta(warehouse, delta: Delta, settings: dict, config: IdentityConfig) -> pl.DataFrame:
    """Score delta x delta and delta x existing pairs; replace the delta's pairs."""
    ids = delta.changed_ids.to_list()
    profiles = warehouse.query(
        f"select {', '.join(SOURCE_COLUMNS)} from {PROFILES} where record_id {_IN_LIST}", [ids])
    first_pass, _ = prepare_matching_frame(profiles)
    candidates = candidate_profiles(warehouse, first_pass, config.blocking_rules)
    # Prepared together: candidates hold every existing record with a delta email or phone
    # (both are blocking keys), so identifiers shared by too many people are found as in a
    # full run.
    frame, _ = prepare_matching_frame(pl.concat([profiles, candidates], how="vertical_relaxed"))
    is_delta = pl.col("record_id").is_in(delta.changed_ids.implode())
    pairs = score_new_pairs(frame.filter(~is_delta), frame.filter(is_delta), settings, config)
    stale = [*ids, *delta.removed_ids.to_list()]
    warehouse.execute(f"delete from {PAIRS} where record_id_l {_IN_LIST} or record_id_r "
                      f"{_IN_LIST}", [stale, stale])
    warehouse.write(PAIRS, pairs, mode="append")
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
