"""Person names: one spelling per name so the identity stage compares like with like.

Names are NFKC-normalised, stripped of hostile and non-name characters (digits, emoji, markup
brackets), whitespace-collapsed and title-cased. Title case is applied even to names typed in
mixed case ("McDonald" becomes "Mcdonald") because matching needs one form, not the nicest one.
"""

import polars as pl

from email_data_platform.lib.cleaning.text import clean_text

# Letters, combining marks, spaces, apostrophes, hyphens and dots are all a name may hold.
_NOT_NAME_CHARACTER = r"[^\p{L}\p{M}\s'’\-\.]"
MARKUP_PATTERN = r"<\s*[a-zA-Z/!?]"


def clean_name(column: str | pl.Expr) -> pl.Expr:
    """One name field, normalised; null when nothing name-like is left."""
    tidy = (
        clean_text(column)
        .str.replace_all("’", "'", literal=True)
        .str.replace_all(_NOT_NAME_CHARACTER, " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" .-'")
        .str.to_titlecase()
    )
    return pl.when(tidy.str.len_chars() > 0).then(tidy)


def split_full_names(first: pl.Expr, last: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Split a full name held in one field when the other is empty.

    "Mary Jane Smith" in first_name becomes first "Mary Jane", last "Smith"; "Smith, John"
    (surname first, comma) becomes first "John", last "Smith". Expects cleaned inputs, except
    that commas must still be present, so callers pass names cleaned with `keep_commas`.
    """
    only_one = first.is_null() ^ last.is_null()
    full = pl.coalesce(first, last)
    has_comma = full.str.contains(",", literal=True)
    comma_last = full.str.extract(r"^([^,]+),", 1)
    comma_first = full.str.extract(r",\s*(.+)$", 1)
    space_first = full.str.extract(r"^(.+)\s\S+$", 1)
    space_last = full.str.extract(r"\s(\S+)$", 1)
    can_split = only_one & (has_comma | full.str.contains(" ", literal=True))
    split_first = pl.when(has_comma).then(comma_first).otherwise(space_first)
    split_last = pl.when(has_comma).then(comma_last).otherwise(space_last)
    new_first = pl.when(can_split).then(split_first).otherwise(first)
    new_last = pl.when(can_split).then(split_last).otherwise(last)
    return new_first, new_last


def normalise_names(
    frame: pl.DataFrame, first: str = "first_name", last: str = "last_name"
) -> pl.DataFrame:
    """Clean both name fields, splitting a full name found in only one of them."""
    kept_commas = frame.select(
        clean_text(first).str.replace_all(r"\s*,\s*", ", ").alias("f"),
        clean_text(last).str.replace_all(r"\s*,\s*", ", ").alias("l"),
    )
    split_first, split_last = split_full_names(pl.col("f"), pl.col("l"))
    names = kept_commas.select(
        clean_name(split_first).alias(first), clean_name(split_last).alias(last)
    )
    return frame.with_columns(names)
