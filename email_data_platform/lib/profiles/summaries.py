"""PII-free summaries of cleaned tables, for asset metadata and the UI.

Counts only: no names, addresses, emails or dates of birth ever appear in a summary.
"""

import polars as pl


def count_by(frame: pl.DataFrame, columns: list[str], limit: int = 15) -> pl.DataFrame:
    """Row counts per combination of low-cardinality, non-identifying columns, largest first."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return pl.DataFrame({"rows": [frame.height]})
    return (
        frame.group_by(present)
        .agg(pl.len().alias("rows"))
        .sort(["rows", *present], descending=[True, *[False] * len(present)])
        .head(limit)
    )


COMPLETENESS_ATTRIBUTES = ("email", "phone", "first_name", "last_name", "date_of_birth",
                           "postal_code")


def profile_completeness(clean: pl.DataFrame) -> pl.DataFrame:
    """Share of clean profiles holding each matching attribute (drives identity quality)."""
    present = [c for c in COMPLETENESS_ATTRIBUTES if c in clean.columns]
    filled = clean.select([pl.col(c).is_not_null().mean().alias(c) for c in present])
    return filled.unpivot(variable_name="attribute", value_name="share_filled").with_columns(
        pl.col("share_filled").fill_null(0.0).round(4)
    )


def cleaning_note_counts(clean: pl.DataFrame) -> pl.DataFrame:
    """How many kept profiles had a field blanked, per note (phone_unparseable, ...)."""
    if "cleaning_notes" not in clean.columns:
        return pl.DataFrame(schema={"note": pl.Utf8, "rows": pl.UInt32})
    notes = clean.select(pl.col("cleaning_notes").str.split("; ").explode().alias("note"))
    return notes.drop_nulls().group_by("note").agg(pl.len().alias("rows")).sort("note")
