"""Text hygiene shared by every cleaner: hostile characters out, Unicode and whitespace normalised.

Raw CRM text can carry NUL bytes, control characters, right-to-left overrides and zero-width
characters. They are invisible in a UI yet break matching (two equal-looking names compare
unequal) and can spoof what a reviewer sees, so they are removed before anything else.
"""

import polars as pl

# Cc: control characters (NUL, C0, C1); Cf: format characters (bidi overrides, zero-width,
# soft hyphen, BOM). Replaced by a space so "Ann\x00Smith" does not fuse into "AnnSmith".
HOSTILE_CHARACTERS = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"
_WHITESPACE_RUN = r"\s+"


def clean_text(column: str | pl.Expr) -> pl.Expr:
    """NFKC-normalise, drop hostile characters, collapse whitespace and trim; empty -> null.

    NFKC folds compatibility forms (full-width letters, ligatures) into their plain form so
    "ＡＢＣ" and "ABC" compare equal.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    tidied = (
        expr.cast(pl.Utf8)
        .str.normalize("NFKC")
        .str.replace_all(HOSTILE_CHARACTERS, " ")
        .str.replace_all(_WHITESPACE_RUN, " ")
        .str.strip_chars()
    )
    return pl.when(tidied.str.len_chars() > 0).then(tidied)


def is_blank(column: str | pl.Expr) -> pl.Expr:
    """True where a raw value is null or only whitespace/hostile characters."""
    return clean_text(column).is_null()
