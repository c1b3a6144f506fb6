"""Scoring candidate pairs with a trained model, full or incremental, with a cost guard.

Splink always runs on its own in-memory DuckDB connection fed with arrow frames: it writes
`__splink__*` tables wherever it is connected, and the warehouse's schemas are not its to touch.
"""

import logging
import time
from contextlib import contextmanager

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker

from email_data_platform.lib.identity import scoring_sql
from email_data_platform.lib.identity.settings import (
    MATCHING_COLUMNS,
    BlockingRule,
    IdentityConfig,
    with_blocking_rules,
)

logger = logging.getLogger(__name__)

PAIR_SCHEMA = {
    "record_id_l": pl.Utf8,
    "record_id_r": pl.Utf8,
    "match_weight": pl.Float64,
    "match_probability": pl.Float64,
}


class ComparisonCapExceeded(ValueError):
    """Blocking would generate more comparisons than the configured cap allows."""


def _block_key(columns: list[str], aliases: list[str] | None = None) -> pl.Expr:
    """A 64-bit hash of the blocking key: grouping on it is ~10x cheaper than on strings, and a
    rare collision only nudges an estimate."""
    fields = [pl.col(c).alias(a) for c, a in zip(columns, aliases or columns, strict=True)]
    return pl.struct(fields).hash(seed=0).alias("key")


def _block_sizes(frame: pl.DataFrame, rule: BlockingRule) -> pl.LazyFrame:
    columns = list(rule.columns)
    if not rule.swapped:
        keyed = frame.lazy().drop_nulls(columns).select(_block_key(columns))
        sizes = keyed.group_by("key").len()
        pairs = pl.col("len") * (pl.col("len") - 1) // 2
        return sizes.select(pairs.sum().alias("comparisons"), pl.col("len").max())
    names = ["first_name", "last_name", *columns]
    swapped = ["last_name", "first_name", *columns]
    present = frame.lazy().drop_nulls(names)
    forward = present.select(_block_key(names)).group_by("key").len()
    reverse = present.select(_block_key(swapped, names)).group_by("key").len()
    joined = forward.join(reverse, on="key")
    # Each unordered pair is seen from both sides of the join.
    return joined.select((pl.col("len") * pl.col("len_right")).sum().floordiv(2)
                         .alias("comparisons"), pl.col("len").max())


def count_comparisons(frame: pl.DataFrame, rules: tuple[BlockingRule, ...]) -> pl.DataFrame:
    """Comparisons each blocking rule generates on its own, before de-duplication across rules.

    Counted from block sizes (n records sharing a key give n*(n-1)/2 pairs), so it costs one
    hashed group-by per rule (run in parallel) rather than the join itself. Also reports each
    rule's largest block.
    """
    results = pl.collect_all([_block_sizes(frame, rule) for rule in rules])
    rows = [
        {"rule": rule.name, "comparisons": int(result["comparisons"][0] or 0),
         "largest_block": int(result["len"][0] or 0)}
        for rule, result in zip(rules, results, strict=True)
    ]
    return pl.DataFrame(
        rows, schema={"rule": pl.Utf8, "comparisons": pl.Int64, "largest_block": pl.Int64}
    )


def count_new_comparisons(existing: pl.DataFrame, delta: pl.DataFrame,
                          rules: tuple[BlockingRule, ...]) -> pl.DataFrame:
    """Comparisons an incremental run makes per rule: delta x delta plus delta x existing.

    Same output as `count_comparisons`. Swapped-name rules are counted as if unswapped (an
    upper bound is enough for a guard).
    """
    both = pl.concat([existing.with_columns(pl.lit(False).alias("_new")),
                      delta.with_columns(pl.lit(True).alias("_new"))], how="vertical_relaxed")
    plans = []
    for rule in rules:
        columns = (["first_name", "last_name"] if rule.swapped else []) + list(rule.columns)
        sizes = both.lazy().drop_nulls(columns).group_by(_block_key(columns)).agg(
            pl.col("_new").sum().cast(pl.Int64).alias("new"), pl.len().alias("len"))
        pairs = pl.col("new") * (pl.col("new") - 1) // 2 + pl.col("new") * (
            pl.col("len") - pl.col("new"))
        plans.append(sizes.select(pairs.sum().alias("comparisons"), pl.col("len").max()))
    rows = [{"rule": rule.name, "comparisons": int(r["comparisons"][0] or 0),
             "largest_block": int(r["len"][0] or 0)}
            for rule, r in zip(rules, pl.collect_all(plans), strict=True)]
    return pl.DataFrame(
        rows, schema={"rule": pl.Utf8, "comparisons": pl.Int64, "largest_block": pl.Int64})


def check_comparison_cap(counts: pl.DataFrame, cap: int) -> int:
    """Raise `ComparisonCapExceeded` naming the costly rules when the total passes `cap`."""
    total = int(counts["comparisons"].sum())
    if total > cap:
        worst = counts.sort("comparisons", descending=True).head(3).iter_rows(named=True)
        detail = "; ".join(
            f"{r['rule']}: {r['comparisons']:,} pairs (largest block {r['largest_block']:,})"
            for r in worst
        )
        raise ComparisonCapExceeded(
            f"blocking rules would generate {total:,} comparisons, above the cap of {cap:,}. "
            f"Costliest rules: {detail}. Tighten those rules or raise max_comparisons."
        )
    return total


@contextmanager
def splink_connection(memory_limit: str = IdentityConfig.splink_memory_limit,
                      api=DuckDBAPI):
    """A private in-memory DuckDB for Splink, closed afterwards."""
    con = duckdb.connect(config={"memory_limit": memory_limit,
                                 "preserve_insertion_order": False})
    try:
        yield api(connection=con)
    finally:
        con.close()


def _to_pairs(scored, record_ids: pl.Series | None = None) -> pl.DataFrame:
    """Splink output (arrow) as PAIR_SCHEMA rows, ids ordered; integer `uid`s mapped to
    record ids."""
    table = pl.from_arrow(scored)
    if record_ids is not None:
        lookup = record_ids.to_frame("record_id").with_row_index("uid").with_columns(
            pl.col("uid").cast(pl.Int64))
        table = table.join(lookup.rename({"uid": "uid_l"}), on="uid_l").rename(
            {"record_id": "record_id_l"}).join(lookup.rename({"uid": "uid_r"}), on="uid_r"
                                               ).rename({"record_id": "record_id_r"})
    pairs = table.select(
        pl.min_horizontal("record_id_l", "record_id_r").alias("record_id_l"),
        pl.max_horizontal("record_id_l", "record_id_r").alias("record_id_r"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    )
    return pairs if pairs.height else pl.DataFrame(schema=PAIR_SCHEMA)


def _with_uid(frame: pl.DataFrame) -> pl.DataFrame:
    """Integer ids for Splink: joins and blocked-pair tables on Int64 rather than strings
    cost less time and memory at 1M records."""
    return frame.with_row_index("uid").with_columns(pl.col("uid").cast(pl.Int64)).drop(
        "record_id")


def score_all_pairs(
    frame: pl.DataFrame, settings: dict, config: IdentityConfig | None = None
) -> pl.DataFrame:
    """Score every blocked pair of the matching frame once; keep pairs above the floor.

    Raises `ComparisonCapExceeded` before any pair is generated if blocking is too costly.
    Pairs come back with record_id_l < record_id_r.
    """
    config = config or IdentityConfig()
    check_comparison_cap(count_comparisons(frame, config.blocking_rules), config.max_comparisons)
    started = time.perf_counter()
    with splink_connection(config.splink_memory_limit) as db_api:
        # String views: the arrow table shares polars' buffers (a large_string copy of 1M
        # records would add ~150 MB to the peak, which is set here).
        records = db_api.register(_with_uid(frame).to_arrow(compat_level=pl.CompatLevel.newest()),
                                  table_name="records")
        by_uid = {**with_blocking_rules(settings, config), "unique_id_column_name": "uid"}
        linker = Linker(records, by_uid, log_level=None)
        scored = linker.inference.predict(
            threshold_match_probability=config.pair_floor_probability, warning_mode="never"
        )
        pairs = _to_pairs(scored.as_pyarrow_table(), frame["record_id"])
    logger.info("scored %d pairs above p=%s in %.1fs", pairs.height,
                config.pair_floor_probability, time.perf_counter() - started)
    return pairs


def score_new_pairs(
    existing: pl.DataFrame,
    delta: pl.DataFrame,
    settings: dict,
    config: IdentityConfig | None = None,
    sql_cache=None,
) -> pl.DataFrame:
    """Score pairs that involve a new or changed record: delta x delta and delta x existing.

    Existing records are never compared with each other: those pairs are already scored.
    `existing` must not contain the delta's records. `sql_cache` (a mapping, e.g.
    `scoring_sql` statements kept in the warehouse) skips Splink's SQL rendering once the
    statements for this model have been recorded.
    """
    config = config or IdentityConfig()
    if delta.height == 0:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    check_comparison_cap(count_new_comparisons(existing, delta, config.blocking_rules),
                         config.max_comparisons)
    # One prediction, (existing + delta) x delta, instead of between and within: half
    # Splink's fixed cost per call. Each delta pair then comes in both orders (the model
    # has no term-frequency adjustments, so both score alike) and each delta record
    # meets itself; both are dropped below.
    tables = _scoring_tables(existing, delta)
    key = _scoring_key(settings, config, tables)
    statements = sql_cache.get(key) if sql_cache is not None else None
    scored = None
    if statements:
        try:
            scored = scoring_sql.replay(statements, tables, config.splink_memory_limit)
        except (duckdb.Error, ValueError) as error:  # e.g. a stored row edited by hand
            logger.warning("recorded scoring SQL failed (%s); scoring with Splink and"
                           " recording it again", type(error).__name__)
    if scored is None:
        scored, statements = _predict_between(tables, with_blocking_rules(settings, config),
                                              config)
        if sql_cache is not None:
            sql_cache[key] = statements
    pairs = _to_pairs(scored).filter(pl.col("record_id_l") != pl.col("record_id_r"))
    return pairs.unique(["record_id_l", "record_id_r"], keep="first")


_BOTH, _NEW = "existing_and_new_records", "new_records"


def _scoring_tables(existing: pl.DataFrame, delta: pl.DataFrame) -> dict:
    return {_BOTH: pl.concat([existing, delta], how="vertical_relaxed").to_arrow(),
            _NEW: delta.to_arrow()}


def _scoring_key(settings: dict, config: IdentityConfig, tables: dict) -> str:
    # The rules as configured, not as rendered: rendering them costs ~6 ms per process, and
    # the same rules render the same SQL under one Splink version (also in the key).
    return scoring_sql.scoring_key(
        {**settings, "blocking_rules": repr(config.blocking_rules)},
        config.pair_floor_probability, {name: t.column_names for name, t in tables.items()})


def record_scoring_sql(settings: dict, config: IdentityConfig, sql_cache) -> None:
    """Record `score_new_pairs`' statements for a model into `sql_cache` ahead of its first
    incremental run (training calls this): Splink on empty matching frames, ~0.2 s once."""
    empty = pl.DataFrame(schema=dict.fromkeys(MATCHING_COLUMNS, pl.Utf8))
    tables = _scoring_tables(empty, empty)
    model = with_blocking_rules(settings, config)
    sql_cache[_scoring_key(settings, config, tables)] = _predict_between(tables, model, config)[1]


def _predict_between(tables: dict, model: dict, config: IdentityConfig):
    """Splink's prediction of `_BOTH` x `_NEW`: (scored arrow table, the statements run)."""
    with splink_connection(config.splink_memory_limit, scoring_sql.RecordingDuckDBAPI) as api:
        left = api.register(tables[_BOTH], table_name=_BOTH)
        new = api.register(tables[_NEW], table_name=_NEW)
        # The trained model was validated when it was built; validating again parses every
        # comparison's SQL (~0.05 s), a large share of a small delta's run.
        linker = Linker(new, model, log_level=None, validate_settings=False)
        scored = linker.inference.predict_between(
            left, new, threshold_match_probability=config.pair_floor_probability,
            warning_mode="never")
        return scored.as_pyarrow_table(), api.statements
