"""Person names: one spelling per name so the identity stage compares like with like.

Names are stripped of non-name characters (digits, emoji, markup brackets), whitespace-collapsed
and title-cased; Unicode was NFKC-normalised by `text.tidy_text` before. Title case is applied
even to names typed in mixed case ("McDonald" becomes "Mcdonald") because matching needs one
form, not the nicest one. A full name typed into one field while the other is empty is split.
"""

import polars as pl

from email_data_platform.lib.profiles.text import map_distinct

# Letters, combining marks, spaces, apostrophes, hyphens and dots are all a name may hold.
_NOT_NAME_CHARACTER = r"[^\p{L}\p{M}\s'\-\.]"
MARKUP_PATTERN = r"<\s*[a-zA-Z/!?]"
# Titles typed into name fields ("Dr. Ann", "Mrs Lee") are not part of the name.
_HONORIFIC = r"(?i)^(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|mme|mlle|sr|sra)\.?\s+"


def _name_expr(name: pl.Expr) -> pl.Expr:
    tidy = (
        name.str.replace(_HONORIFIC, "")
        .str.replace_all("’", "'", literal=True)
        .str.replace_all(_NOT_NAME_CHARACTER, " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" .-'")
        .str.to_titlecase()
    )
    return pl.when(tidy.str.len_chars() > 0).then(tidy)


def clean_name_values(names: pl.Series) -> pl.Series:
    """Normalise tidy name strings (one per element); null when nothing name-like is left."""
    return names.to_frame("n").select(_name_expr(pl.col("n"))).to_series().alias(names.name)


def split_full_names(first: pl.Series, last: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Split a full name held in one field when the other is empty (only those rows are touched).

    "Mary Jane Smith" in first_name becomes first "Mary Jane", last "Smith"; "Smith, John"
    (surname first, comma) becomes first "John", last "Smith".
    """
    full = first.fill_null(last)
    splittable = (first.is_null() ^ last.is_null()) & full.str.contains(r"[ ,]")
    positions = splittable.fill_null(False).arg_true()
    if positions.len() == 0:
        return first, last
    text = full.gather(positions).to_frame("full")
    comma = pl.col("full").str.contains(",", literal=True)
    parts = text.select(
        pl.when(comma)
        .then(pl.col("full").str.extract(r",\s*(.+)$", 1))
        .otherwise(pl.col("full").str.extract(r"^(.+)\s\S+$", 1))
        .alias("first"),
        pl.when(comma)
        .then(pl.col("full").str.extract(r"^([^,]+),", 1))
        .otherwise(pl.col("full").str.extract(r"\s(\S+)$", 1))
        .alias("last"),
    )
    return first.scatter(positions, parts["first"]), last.scatter(positions, parts["last"])


def normalise_names(
    frame: pl.DataFrame, first: str = "first_name", last: str = "last_name"
) -> pl.DataFrame:
    """Clean both (tidy) name fields, splitting a full name found in only one of them."""
    split_first, split_last = split_full_names(
        frame.get_column(first).cast(pl.Utf8), frame.get_column(last).cast(pl.Utf8)
    )
    return frame.with_columns(
        map_distinct(split_first, clean_name_values).alias(first),
        map_distinct(split_last, clean_name_values).alias(last),
    )
