"""Quarantine: rows that break a rule are set aside with their reason, never dropped.

Each cleaner declares its rules as data (`Rule`: a name, a human reason, and a polars
expression that is True where a row breaks it). `split_by_rules` evaluates every rule once,
vectorised, and splits a table into the rows that pass and quarantine rows. A quarantined row
records the first failing rule (rules are ordered by precedence) and, in `reason`, every rule
it fails, plus the raw record as JSON so a reviewer can fix it at the source.

`profiles.quarantine` is replaced on each run (not appended): the clean tables are rebuilt
from the full raw tables every run, so the quarantine must describe the same snapshot for
raw = clean + quarantined to hold. `run_id` and `quarantined_at` say which run produced it;
history lives in Dagster's materialisation metadata.
"""

import datetime as dt
from dataclasses import dataclass

import polars as pl

QUARANTINE_SCHEMA = {
    "source": pl.Utf8,
    "table_name": pl.Utf8,
    "record_key": pl.Utf8,
    "rule": pl.Utf8,
    "reason": pl.Utf8,
    "raw_record": pl.Utf8,
    "run_id": pl.Utf8,
    "quarantined_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Rule:
    """One data rule. `violated` is evaluated on the staged frame (raw + derived columns)."""

    name: str
    reason: str
    violated: pl.Expr


@dataclass(frozen=True)
class RuleSplit:
    """Rows that pass every rule (staged columns) and the quarantine rows for the others."""

    passed: pl.DataFrame
    quarantine: pl.DataFrame


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def split_by_rules(
    staged: pl.DataFrame,
    rules: list[Rule],
    *,
    table_name: str,
    source: pl.Expr,
    record_key: pl.Expr,
    raw_record: pl.Expr,
    run_id: str,
    quarantined_at: dt.datetime | None = None,
) -> RuleSplit:
    """Split `staged` into passing rows and quarantine rows; every input row lands in exactly one.

    `source`, `record_key` and `raw_record` are expressions on `staged`: where the row came
    from, the key naming it, and the record as received (a JSON string).
    """
    flags = staged.select(
        [rule.violated.fill_null(False).alias(f"__rule_{i}") for i, rule in enumerate(rules)]
    )
    failed = flags.select(pl.any_horizontal(pl.all()).alias("failed")).to_series()
    passed = staged.filter(~failed)
    # Verdict texts are built for failing rows only: they are few, the table may be millions.
    failing_flags = flags.filter(failed)
    first_rule = pl.coalesce(
        [pl.when(pl.col(f"__rule_{i}")).then(pl.lit(r.name)) for i, r in enumerate(rules)]
    )
    all_reasons = pl.concat_str(
        [
            pl.when(pl.col(f"__rule_{i}")).then(pl.lit(f"{r.name}: {r.reason}"))
            for i, r in enumerate(rules)
        ],
        separator="; ",
        ignore_nulls=True,
    )
    verdicts = failing_flags.select(first_rule.alias("rule"), all_reasons.alias("reason"))
    rejected = pl.concat([staged.filter(failed), verdicts], how="horizontal")
    when = quarantined_at or dt.datetime.now(dt.UTC)
    quarantine = rejected.select(
        source.cast(pl.Utf8).fill_null("unknown").alias("source"),
        pl.lit(table_name).alias("table_name"),
        record_key.cast(pl.Utf8).fill_null("(missing)").alias("record_key"),
        pl.col("rule"),
        pl.col("reason"),
        raw_record.alias("raw_record"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(when, dtype=pl.Datetime("us", "UTC")).alias("quarantined_at"),
    )
    return RuleSplit(passed=passed, quarantine=quarantine)


def latest_version_flags(frame: pl.DataFrame, key: str, order_by: list[str]) -> pl.Series:
    """True for every row that is an older copy of a record seen again later (same `key`).

    The latest version by `order_by` (descending, nulls oldest) survives; ties keep the row
    that came last in the input, so the result never depends on hash order. Only rows whose
    key repeats are ranked (usually a small share of an extract).
    """
    keys = frame.get_column(key)
    repeated = (keys.is_duplicated() & keys.is_not_null()).arg_true()
    flags = pl.Series(key, [False] * frame.height, dtype=pl.Boolean)
    if repeated.len() == 0:
        return flags
    ranked = (
        frame[repeated].select(pl.col(key), *order_by).with_columns(pl.Series("__pos", repeated))
    )
    newest_first = ranked.sort([*order_by, "__pos"], descending=True, nulls_last=True)
    survivors = newest_first.unique(subset=[key], keep="first").get_column("__pos")
    older = ranked.get_column("__pos").filter(
        ~ranked.get_column("__pos").is_in(survivors.implode())
    )
    return flags.scatter(older, True)


def accounting_by_source(
    raw_counts: pl.DataFrame, clean_counts: pl.DataFrame, quarantine_counts: pl.DataFrame
) -> pl.DataFrame:
    """raw = clean + quarantined per source; each input has columns `source`, `rows`.

    Returns source, raw_rows, clean_rows, quarantined_rows, balanced (Boolean).
    """
    joined = (
        raw_counts.rename({"rows": "raw_rows"})
        .join(clean_counts.rename({"rows": "clean_rows"}), on="source", how="full", coalesce=True)
        .join(
            quarantine_counts.rename({"rows": "quarantined_rows"}),
            on="source",
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("raw_rows", "clean_rows", "quarantined_rows").fill_null(0))
    )
    balanced = pl.col("raw_rows") == pl.col("clean_rows") + pl.col("quarantined_rows")
    return joined.with_columns(balanced.alias("balanced")).sort("source")


def quarantined_withdrawals(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Consent withdrawals that sit in quarantine (record_key, rule): each one is a person who
    said stop and whom the ledger cannot yet honour, so privacy officers must see them."""
    consent = quarantine.filter(pl.col("table_name") == "consent_raw")
    status = pl.col("raw_record").str.json_path_match("$.status").str.strip_chars()
    return consent.filter(status.str.to_lowercase() == "withdrawn").select("record_key", "rule")
