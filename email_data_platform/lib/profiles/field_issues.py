"""Field issues: a bad optional value is nulled on a kept row and recorded, never the row lost.

A contact with a valid email and name but an impossible date of birth is still a customer: only
the value is unusable. A `FieldRule` names one field, the rule and its reason, and a polars
expression on the staged frame (raw + derived columns) that is True where the field's value
breaks it. `apply_field_rules` nulls those values on the passing rows and returns one
`profiles.field_issues` row per (record, field, rule) with the raw value as received, so a
reviewer can fix it at the source. Whole-row rules (lib/profiles/quarantine.py) still decide
which rows are kept; field rules only ever touch rows that are kept.
"""

import datetime as dt
from dataclasses import dataclass

import polars as pl

FIELD_ISSUE_SCHEMA = {
    "source": pl.Utf8,
    "table_name": pl.Utf8,
    "record_key": pl.Utf8,
    "field": pl.Utf8,
    "rule": pl.Utf8,
    "reason": pl.Utf8,
    "raw_value": pl.Utf8,
    "run_id": pl.Utf8,
    "detected_at": pl.Datetime("us", "UTC"),
}
# A raw value is kept up to this many characters: enough to fix it, never a 50 MB field.
RAW_VALUE_KEEP_CHARS = 512


@dataclass(frozen=True)
class FieldRule:
    """One field-level rule: where `violated`, the value of `field` (and `also_null`) is nulled."""

    field: str
    name: str
    reason: str
    violated: pl.Expr
    also_null: tuple[str, ...] = ()


def empty_field_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=FIELD_ISSUE_SCHEMA)


def apply_field_rules(
    staged: pl.DataFrame,
    rules: list[FieldRule],
    *,
    table_name: str,
    source: pl.Expr,
    record_key: pl.Expr,
    raw_prefix: str,
    run_id: str,
    detected_at: dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Null every value a rule finds bad; return (staged with values nulled, field issues).

    All flags are computed on the values as derived, before any nulling, so the order of the
    rules does not change what is found; each (record, field, rule) is reported once.
    """
    flags = staged.select(
        [rule.violated.fill_null(False).alias(f"__field_{i}") for i, rule in enumerate(rules)]
    )
    when = detected_at or dt.datetime.now(dt.UTC)
    issues = [empty_field_issues()]
    for i, rule in enumerate(rules):
        hit = flags.get_column(f"__field_{i}")
        if not hit.any():
            continue
        raw_value = pl.col(f"{raw_prefix}{rule.field}").cast(pl.Utf8)
        issues.append(
            staged.filter(hit).select(
                source.cast(pl.Utf8).alias("source"),
                pl.lit(table_name).alias("table_name"),
                record_key.cast(pl.Utf8).alias("record_key"),
                pl.lit(rule.field).alias("field"),
                pl.lit(rule.name).alias("rule"),
                pl.lit(rule.reason).alias("reason"),
                raw_value.str.slice(0, RAW_VALUE_KEEP_CHARS).alias("raw_value"),
                pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
                pl.lit(when, dtype=pl.Datetime("us", "UTC")).alias("detected_at"),
            )
        )
    nulled = staged
    for field in dict.fromkeys(c for rule in rules for c in (rule.field, *rule.also_null)):
        bad = pl.any_horizontal(
            [pl.col(f"__field_{i}") for i, r in enumerate(rules)
             if field in (r.field, *r.also_null)]
        )
        mask = flags.select(bad).to_series()
        if mask.any():
            nulled = nulled.with_columns(
                pl.when(mask).then(None).otherwise(pl.col(field)).alias(field)
            )
    return nulled, pl.concat(issues, how="vertical")


def field_issue_counts(issues: pl.DataFrame) -> pl.DataFrame:
    """Issues per table, field and rule (no values: counts are safe for metadata)."""
    return (
        issues.group_by("table_name", "field", "rule")
        .agg(pl.len().alias("rows"))
        .sort("rows", "table_name", "field", "rule", descending=[True, False, False, False])
    )
