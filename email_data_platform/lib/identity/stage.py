"""The identity stage against a warehouse: what each asset does, minus the Dagster wiring.

Tables (docs/tables.md): identity.splink_model, identity.match_pairs, identity.entities,
identity.golden_profiles, plus identity.entity_aliases (merged-away ids), identity.link_state
(how the current pairs were produced, so entities resolve the same way) and
identity.blocking_keys (each profile's blocking keys, for incremental candidate lookup) and
identity.scoring_sql (the model's incremental scoring statements, recorded at training).

Identity computes in DuckDB (Splink's backend, transactions over registered frames). On the
DuckDB warehouse that is the warehouse itself; on Snowflake or BigQuery each step runs in a
local workspace (`lib/warehouse/local.py`): clean profiles and the identity tables are copied
into a temporary DuckDB file, and the identity tables the step changed are published back when it
succeeds.
"""

import functools
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from email_data_platform.lib.identity import (
    adapt,
    blocking_keys,
    engines,
    golden_refresh,
    incremental,
    scoring_sql,
)
from email_data_platform.lib.identity.linking import (
    count_comparisons,
    record_scoring_sql,
)
from email_data_platform.lib.identity.matching import SOURCE_COLUMNS, prepare_matching_frame
from email_data_platform.lib.identity.resolve import Delta, choose_mode, resolve_full
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.identity.stable_ids import summarise_id_changes
from email_data_platform.lib.identity.training import train_model
from email_data_platform.lib.warehouse import local_workspace

logger = logging.getLogger(__name__)

PROFILES = "profiles.clean_profiles"
MODEL = "identity.splink_model"
PAIRS = "identity.match_pairs"
ENTITIES = "identity.entities"
ALIASES = "identity.entity_aliases"
LINK_STATE = "identity.link_state"
GOLDEN = golden_refresh.GOLDEN
ENTITY_COUNTS = "identity.entity_counts"


def in_workspace(only: tuple[str, ...] | None = None):
    """Run `step(warehouse, ...)` on DuckDB: the warehouse itself when it is DuckDB, else a
    local copy of clean profiles and the identity tables (`only` those, when given: the
    tables the step reads and writes), published back on success."""
    def decorate(step):
        @functools.wraps(step)
        def run(warehouse, *args, **kwargs):
            # Profiles by record id: the training sample and Splink's random pairs depend on
            # the order of the rows.
            with local_workspace(warehouse, read=[PROFILES], publish_schemas=["identity"],
                                 order={PROFILES: ["record_id"]}, only=only) as local:
                return step(local, *args, **kwargs)
        return run
    return decorate


def read_if_exists(warehouse, table: str) -> pl.DataFrame | None:
    return warehouse.read(table) if warehouse.exists(table) else None


def latest_model(warehouse) -> dict | None:
    """The newest row of identity.splink_model, or None before the first training."""
    if not warehouse.exists(MODEL):
        return None
    rows = warehouse.query(f"select * from {MODEL} order by trained_at desc limit 1")
    return rows.row(0, named=True) if rows.height else None


def ensure_model(warehouse, model_dir: Path, config: IdentityConfig, force: bool,
                 max_age_days: int) -> dict:
    """Reuse the current model unless forced, missing or older than `max_age_days`; else train.

    Returns the model row plus `retrained` (bool).
    """
    current = latest_model(warehouse)
    if current is not None and not force:
        age = datetime.now(UTC) - current["trained_at"]
        if age <= timedelta(days=max_age_days):
            return {**current, "retrained": False}
    return _train(warehouse, model_dir, config)


@in_workspace(only=(MODEL, scoring_sql.TABLE))
def _train(warehouse, model_dir: Path, config: IdentityConfig) -> dict:
    model = train_model(warehouse.read(PROFILES), config)
    model_path = model.save(model_dir)
    row = {
        "model_version": model.model_version,
        "trained_at": model.trained_at,
        "model_path": str(model_path),
        "settings_json": model.settings_json,
        "chart_paths": json.dumps(
            {name: str(model_dir / f"splink_model_{model.model_version}_{name}.html")
             for name in model.charts}
        ),
        **{key: str(value) for key, value in model.metadata.items()},
    }
    warehouse.write(MODEL, pl.DataFrame([row]), mode="append")
    # Incremental runs then replay Splink's scoring SQL rather than render it each time.
    record_scoring_sql(json.loads(model.settings_json), adapt.config_for_model(config, row),
                       scoring_sql.StoredStatements(warehouse))
    return {**row, "retrained": True}


def _choose_link_mode(warehouse, model: dict, requested_mode: str) -> tuple[str, Delta | None]:
    state = read_if_exists(warehouse, LINK_STATE)
    same_model = state is not None and state["model_version"][0] == model["model_version"]
    linked_before = same_model and all(warehouse.exists(t) for t in (ENTITIES, PAIRS))
    if not linked_before:
        return "full", None
    delta = incremental.find_delta_in_warehouse(warehouse)
    return choose_mode(requested_mode, delta, warehouse.row_count(PROFILES)), delta


@in_workspace()
def link_pairs(warehouse, config: IdentityConfig, requested_mode: str) -> dict:
    """Score candidate pairs once (full) or only those involving new/changed records."""
    started = time.perf_counter()
    model = latest_model(warehouse)
    if model is None:
        raise LookupError("no trained identity model: materialise identity/splink_model first")
    settings = json.loads(model["settings_json"])
    # Prediction blocks on the rules the model was trained for (those its data can use).
    config = adapt.config_for_model(config, model)
    mode, delta = _choose_link_mode(warehouse, model, requested_mode)
    summary: dict = {"mode": mode, "model_version": model["model_version"]}
    if mode == "full":
        profiles = warehouse.read(PROFILES, SOURCE_COLUMNS)
        frame, junk_counts = prepare_matching_frame(profiles)
        # Stored for the next incremental run's candidate lookup; written (and the raw
        # profiles dropped) before scoring, which sets the peak memory.
        blocking_keys.save_keys(warehouse, profiles, config.blocking_rules)
        del profiles
        comparisons = count_comparisons(frame, config.blocking_rules)
        pairs = engines.score_pairs(frame, settings, config)  # EDP_IDENTITY_ENGINE
        warehouse.write(PAIRS, pairs)
        summary.update(delta_records=frame.height, comparisons_by_rule=comparisons,
                       junk_identifiers_nulled=junk_counts)
    else:
        pairs = incremental.link_delta(warehouse, delta, settings, config)
        summary.update(delta_records=delta.size)
    warehouse.write(LINK_STATE, pl.DataFrame([{
        "mode": mode, "model_version": model["model_version"], "linked_at": datetime.now(UTC),
        "delta_records": summary["delta_records"], "pairs_scored": pairs.height,
    }]))
    return {**summary, "pairs_scored": pairs.height, "pairs_total": warehouse.row_count(PAIRS),
            "seconds": round(time.perf_counter() - started, 2)}


def _stored_counts(warehouse) -> dict | None:
    """Last run's {records, entities}, or None when missing or not about the current table.

    Counting distinct entity ids reads all 1M rows (~0.05 s, a tenth of what is left of an
    incremental run); an incremental run changes only the entities it touched, so it adjusts
    the stored count instead. The record count (DuckDB keeps it, so it is free) guards against
    a table changed without the count.
    """
    if not warehouse.exists(ENTITY_COUNTS):
        return None
    stored = warehouse.read(ENTITY_COUNTS).row(0, named=True)
    return stored if stored["records"] == warehouse.row_count(ENTITIES) else None


def _counts_frame(records: int, entities: int) -> pl.DataFrame:
    return pl.DataFrame({"records": [records], "entities": [entities]},
                        schema={"records": pl.Int64, "entities": pl.Int64})


def _write_full(warehouse, entities: pl.DataFrame) -> dict:
    """Replace entities and their counts together, so the counts never describe other rows."""
    counts = {"records": entities.height, "entities": entities["entity_id"].n_unique()}
    with warehouse.transaction(["identity"], __entities=entities,
                               __counts=_counts_frame(**counts)) as con:
        con.execute(f"create or replace table {ENTITIES} as select * from __entities")
        con.execute(f"create or replace table {ENTITY_COUNTS} as select * from __counts")
        golden_refresh.drop_pending(con)
    return counts


def _write_incremental(warehouse, delta: Delta, before: pl.DataFrame,
                       after: pl.DataFrame) -> dict:
    """Delete gone rows, upsert changed ones and update the counts in one transaction.

    `before` holds every row of every touched entity and `after` what replaces them, and new
    ids are minted clear of every other entity, so the entity count moves by the difference.
    A removed record may belong to an untouched entity: then, and without a stored count,
    entities are recounted.
    """
    stored = _stored_counts(warehouse)
    gone = pl.concat([delta.removed_ids.cast(pl.Utf8),
                      before.join(after, on="record_id", how="anti")["record_id"]])
    # Only rows that differ: most touched records keep their entity, and every deleted
    # row costs DuckDB a rewrite of its row group when the file is checkpointed.
    changed = after.join(before.select(after.columns).cast(dict(after.schema)),
                         on=after.columns, how="anti", nulls_equal=True)
    # Rows to delete: gone ones and changed ones already stored (new records have no row).
    stale = pl.concat([gone, changed.join(before, on="record_id", how="semi")["record_id"]])
    touched = pl.concat([before["entity_id"], after["entity_id"]]).cast(pl.Utf8).to_frame(
        "entity_id")
    removed = delta.removed_ids.cast(pl.Utf8).to_frame("record_id")
    with warehouse.transaction(["identity"], __stale=stale.to_frame("record_id"),
                               __incoming=changed, __touched=touched, __removed=removed) as con:
        # Golden profiles of these entities are stale: touched ones, and removed records'.
        golden_refresh.mark_pending(con, "__touched" if not removed.height else (
            f"(select entity_id from __touched union all select entity_id from {ENTITIES}"
            " where record_id in (select record_id from __removed))"))
        if stale.len():
            con.execute(f"delete from {ENTITIES} where record_id in"
                        " (select record_id from __stale)")
        con.execute(f"insert into {ENTITIES} by name select * from __incoming")
        records = con.execute(f"select count(*) from {ENTITIES}").fetchone()[0]
        if stored is None or delta.removed_ids.len():
            entities = con.execute(f"select count(distinct entity_id) from {ENTITIES}"
                                   ).fetchone()[0]
        else:
            entities = (stored["entities"] - before["entity_id"].n_unique()
                        + after["entity_id"].n_unique())
        con.register("__counts", _counts_frame(records, entities).to_arrow())
        con.execute(f"create or replace table {ENTITY_COUNTS} as select * from __counts")
        con.unregister("__counts")
    return {"records": records, "entities": entities}


@in_workspace()
def resolve_entities(warehouse, config: IdentityConfig) -> dict:
    """Cluster pairs into entities with stable ids, full or incremental as pairs were linked."""
    aliases = read_if_exists(warehouse, ALIASES)
    state = warehouse.read(LINK_STATE).row(0, named=True)
    config = adapt.config_for_model(config, latest_model(warehouse))
    now = datetime.now(UTC)
    if state["mode"] == "full" or not warehouse.exists(ENTITIES):
        previous = read_if_exists(warehouse, ENTITIES)
        profiles = warehouse.read(PROFILES, ["record_id", "updated_at"])
        entities, aliases = resolve_full(profiles, warehouse.read(PAIRS), previous, aliases,
                                         config.match_threshold, now)
        changes = summarise_id_changes(previous, entities)
        counts = _write_full(warehouse, entities)
    else:
        delta = incremental.load_delta(warehouse)
        before, after, aliases = incremental.resolve_delta(
            warehouse, delta, aliases, config.match_threshold, now)
        changes = summarise_id_changes(before, after)
        changes["records_removed"] = delta.removed_ids.len()
        counts = _write_incremental(warehouse, delta, before, after)
    warehouse.write(ALIASES, aliases)
    return {"mode": state["mode"], **counts, "aliases": aliases.height, **changes}


@in_workspace(only=(ENTITIES, GOLDEN, golden_refresh.PENDING, golden_refresh.STATE))
def build_golden(warehouse) -> dict:
    """Golden profiles, rebuilt only for the entities that changed when possible."""
    return golden_refresh.refresh_golden(warehouse)
