"""Shared plumbing for the table cleaners: conform raw input, stage it, account for it.

A cleaner works on a *staged* frame: the raw record under `raw__<column>` (kept verbatim for the
quarantine's `raw_record`) side by side with the derived clean columns, same rows, same order.
"""

from dataclasses import dataclass, field

import polars as pl

from email_data_platform.lib.profiles.dates import parse_timestamps
from email_data_platform.lib.profiles.field_issues import empty_field_issues
from email_data_platform.lib.profiles.names import MARKUP_PATTERN
from email_data_platform.lib.profiles.quarantine import (
    Rule,
    RuleSplit,
    latest_version_flags,
    split_by_rules,
)

RAW_PREFIX = "raw__"


@dataclass(frozen=True)
class CleanResult:
    """What a cleaner returns: the clean table, the quarantine rows of its rejected input and
    the field issues (values nulled on kept rows)."""

    clean: pl.DataFrame
    quarantine: pl.DataFrame
    field_issues: pl.DataFrame = field(default_factory=empty_field_issues)

    @property
    def raw_rows(self) -> int:
        return self.clean.height + self.quarantine.height


def conform(raw: pl.DataFrame, text_columns: list[str]) -> pl.DataFrame:
    """Every expected text column present and Utf8: missing ones become null, wrong types are cast.

    Hostile exports can drop a column or send numbers where strings belong; neither may crash a
    run, and the rules then quarantine what cannot be used.
    """
    present = set(raw.columns)
    return raw.with_columns(
        [
            pl.col(c).cast(pl.Utf8, strict=False)
            if c in present
            else pl.lit(None, pl.Utf8).alias(c)
            for c in text_columns
        ]
    )


def extracted_at_series(raw: pl.DataFrame) -> pl.Series:
    """`extracted_at` as a UTC Datetime whatever type it arrived in (null when absent)."""
    if "extracted_at" not in raw.columns:
        return pl.Series("extracted_at", [None] * raw.height, dtype=pl.Datetime("us", "UTC"))
    column = raw.get_column("extracted_at")
    if isinstance(column.dtype, pl.Datetime):
        stamped = column if column.dtype.time_zone else column.dt.replace_time_zone("UTC")
        return stamped.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return parse_timestamps(column.cast(pl.Utf8)).alias("extracted_at")


def raw_col(name: str) -> pl.Expr:
    return pl.col(f"{RAW_PREFIX}{name}")


def stage(raw: pl.DataFrame, derived: pl.DataFrame) -> pl.DataFrame:
    """Raw columns (prefixed) and derived columns side by side."""
    return pl.concat([raw.select(pl.all().name.prefix(RAW_PREFIX)), derived], how="horizontal")


RAW_FIELD_KEEP_CHARS = 4096


def _kept(column: str, dtype: pl.DataType) -> pl.Expr:
    """A raw text field for the quarantine, cut at RAW_FIELD_KEEP_CHARS: a hostile 50 MB field
    must not be copied into every quarantine read. The cut is marked, never silent."""
    value = raw_col(column)
    if dtype != pl.Utf8:
        return value.alias(column)
    cut = pl.concat_str(
        value.str.slice(0, RAW_FIELD_KEEP_CHARS),
        pl.lit("...[truncated from "),
        value.str.len_chars().cast(pl.Utf8),
        pl.lit(" characters]"),
    )
    return (
        pl.when(value.str.len_bytes() > RAW_FIELD_KEEP_CHARS)
        .then(cut)
        .otherwise(value)
        .alias(column)
    )


def raw_record_json(raw: pl.DataFrame) -> pl.Expr:
    """The record as received, as a JSON object with the source's column names."""
    return pl.struct([_kept(c, raw.schema[c]) for c in raw.columns]).struct.json_encode()


def stage_and_split(raw: pl.DataFrame, conformed: pl.DataFrame, derived: pl.DataFrame, *,
                    key: str, order_by: list[str], rules: list[Rule], table_name: str,
                    run_id: str) -> tuple[pl.DataFrame, RuleSplit]:
    """Every cleaner's last step: flag versions of a record superseded by a later one (by
    `order_by`), stage raw beside derived columns, and split the rows by `rules`, each
    quarantined row keeping its source, its `key` and the record as received.
    Returns (staged, split)."""
    superseded = latest_version_flags(derived, key=key, order_by=order_by)
    staged = stage(conformed, derived.with_columns(superseded.alias("__superseded")))
    split = split_by_rules(
        staged,
        rules,
        table_name=table_name,
        source=raw_col("source"),
        record_key=raw_col(key),
        raw_record=raw_record_json(conformed.select(raw.columns)),
        run_id=run_id,
    )
    return staged, split


def blank(expr: pl.Expr) -> pl.Expr:
    return expr.is_null() | (expr.cast(pl.Utf8).str.strip_chars().str.len_chars() == 0)


def missing_fields_rule(columns: list[str]) -> Rule:
    """A required field is empty in the raw record."""
    return Rule(
        "missing_required_field",
        f"one of the required fields {', '.join(columns)} is empty",
        pl.any_horizontal([blank(raw_col(c)) for c in columns]),
    )


# Keys are compared, joined and reconciled byte for byte, so they are never rewritten: a key
# that is not plain printable ASCII is quarantined instead. "<source>:<id>" for record keys.
RECORD_KEY_PATTERN = r"^[!-9;-~]+:[!-~]+$"
EVENT_KEY_PATTERN = r"^[!-~]+$"
# `source` too: the accounting check groups raw and clean rows by it, so it must not change.
KEY_COLUMNS = (
    "record_id",
    "object_id",
    "order_record_id",
    "contact_record_id",
    "event_id",
    "source",
)


def malformed_key_rule(column: str, pattern: str) -> Rule:
    """The record's key (or source) holds spaces, control or non-ASCII characters, or a record
    key lacks its "<source>:" prefix."""
    plain_source = raw_col("source").cast(pl.Utf8).str.contains(EVENT_KEY_PATTERN)
    plain_key = raw_col(column).cast(pl.Utf8).str.contains(pattern)
    return Rule(
        "malformed_key",
        f"{column} or source is not a plain key (printable ASCII, no spaces; {pattern})",
        ~(plain_key & plain_source).fill_null(False),
    )


def too_long_rule(limits: dict[str, int]) -> Rule:
    """A raw field is longer than any real value could be (garbage or an attack).

    Limits are in UTF-8 bytes: a byte length is stored with each string (a character count
    means scanning it), and a real name or email is far below either limit."""
    violated = pl.any_horizontal(
        [raw_col(c).str.len_bytes().fill_null(0) > limit for c, limit in limits.items()]
    )
    detail = ", ".join(f"{c} > {n} bytes" for c, n in limits.items())
    return Rule("field_too_long", f"a field exceeds its length limit ({detail})", violated)


def markup_rule(columns: list[str]) -> Rule:
    """HTML/script markup in a free-text field: never a real name, and unsafe downstream."""
    violated = pl.any_horizontal([raw_col(c).str.contains(MARKUP_PATTERN) for c in columns])
    return Rule("markup_in_field", f"markup found in one of {', '.join(columns)}", violated)


def cleaning_notes(staged: pl.DataFrame, flags: dict[str, pl.Expr]) -> pl.Series:
    """`cleaning_notes`: which fields were blanked while cleaning a kept row (null when none).

    Notes are rare, so the text is built only for the rows that have one.
    """
    flagged = staged.select([flag.fill_null(False).alias(note) for note, flag in flags.items()])
    rows = flagged.select(pl.any_horizontal(pl.all())).to_series().arg_true()
    notes = pl.Series("cleaning_notes", [None] * staged.height, dtype=pl.Utf8)
    if rows.len() == 0:
        return notes
    text = flagged[rows].select(
        pl.concat_str(
            [pl.when(pl.col(note)).then(pl.lit(note)) for note in flags],
            separator="; ",
            ignore_nulls=True,
        )
    )
    return notes.scatter(rows, text.to_series())
