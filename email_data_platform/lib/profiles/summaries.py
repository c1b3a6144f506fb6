"""PII-free summaries of cleaned tables, for asset metadata and the UI.

Counts only: no names, addresses, emails or dates of birth ever appear in a summary. Each
summary is built from counts (`largest_first`, `completeness_from_counts`,
`note_counts_from_counts`), so the counting can happen in the warehouse and only the counts
travel; `count_by`, `profile_completeness` and `cleaning_note_counts` count a frame in memory.
"""

import polars as pl

COMPLETENESS_ATTRIBUTES = ("email", "phone", "first_name", "last_name", "date_of_birth",
                           "postal_code")


def count_by(frame: pl.DataFrame, columns: list[str], limit: int = 15) -> pl.DataFrame:
    """Row counts per combination of low-cardinality, non-identifying columns, largest first."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return pl.DataFrame({"rows": [frame.height]})
    return largest_first(frame.group_by(present).agg(pl.len().alias("rows")), present, limit)


def largest_first(counts: pl.DataFrame, columns: list[str], limit: int = 15) -> pl.DataFrame:
    """`counts` (one row per combination of `columns`, with its `rows`), largest first."""
    return counts.sort(["rows", *columns], descending=[True, *[False] * len(columns)]).head(limit)


def profile_completeness(clean: pl.DataFrame) -> pl.DataFrame:
    """Share of clean profiles holding each matching attribute (drives identity quality)."""
    present = [c for c in COMPLETENESS_ATTRIBUTES if c in clean.columns]
    filled = clean.select([pl.col(c).is_not_null().sum().alias(c) for c in present])
    return completeness_from_counts(filled, clean.height)


def completeness_from_counts(filled: pl.DataFrame, rows: int) -> pl.DataFrame:
    """`filled`: one row, the number of non-null values per attribute; `rows`: the table's."""
    shares = filled.select([(pl.col(c).cast(pl.Float64) / rows if rows else pl.lit(None,
                                                                                    pl.Float64))
                            .alias(c) for c in filled.columns])
    return shares.unpivot(variable_name="attribute", value_name="share_filled").with_columns(
        pl.col("share_filled").fill_null(0.0).round(4)
    )


def cleaning_note_counts(clean: pl.DataFrame) -> pl.DataFrame:
    """How many kept profiles had a field blanked, per note (phone_unparseable, ...)."""
    if "cleaning_notes" not in clean.columns:
        return note_counts_from_counts(None)
    counts = clean.group_by("cleaning_notes").agg(pl.len().alias("rows"))
    return note_counts_from_counts(counts)


def note_counts_from_counts(counts: pl.DataFrame | None) -> pl.DataFrame:
    """`counts`: rows per distinct `cleaning_notes` text (few: combinations of a few notes)."""
    if counts is None:
        return pl.DataFrame(schema={"note": pl.Utf8, "rows": pl.UInt32})
    notes = counts.select(pl.col("cleaning_notes").str.split("; ").alias("note"),
                          pl.col("rows").cast(pl.UInt32)).explode("note")
    return notes.drop_nulls().group_by("note").agg(pl.col("rows").sum()).sort("note")
