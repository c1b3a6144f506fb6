"""Postal codes, normalised per country where the format is known.

Each known format is (pattern on the compact form, where the separator goes back in):
"SW1A1AA" -> "SW1A 1AA", "1082pj" -> "1082 PJ", "D04K995" -> "D04 K995", "021391234" ->
"02139-1234". A code that does not fit its country's format is blanked (and noted) rather than
failing the record: the address is a matching hint, not a key. Countries without a known format
keep their code upper-cased.
"""

import polars as pl

# country -> (pattern of the compact code, separator position (negative: from the end), separator)
POSTCODE_FORMATS: dict[str, tuple[str, int | None, str]] = {
    "GB": (r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$", -3, " "),
    "IE": (r"^[A-Z][0-9][0-9W][A-Z0-9]{4}$", 3, " "),
    "NL": (r"^[1-9][0-9]{3}[A-Z]{2}$", 4, " "),
    "US": (r"^[0-9]{5}(?:[0-9]{4})?$", 5, "-"),
    "DE": (r"^[0-9]{5}$", None, ""),
    "FR": (r"^[0-9]{5}$", None, ""),
    "ES": (r"^[0-9]{5}$", None, ""),
    "IT": (r"^[0-9]{5}$", None, ""),
    "CA": (r"^[A-Z][0-9][A-Z][0-9][A-Z][0-9]$", 3, " "),
    "AU": (r"^[0-9]{4}$", None, ""),
}


def _with_separator(compact: pl.Expr, position: int | None, separator: str) -> pl.Expr:
    if position is None:
        return compact
    split_at = compact.str.len_chars() + position if position < 0 else pl.lit(position)
    head, tail = compact.str.slice(0, split_at), compact.str.slice(split_at)
    return (
        pl.when(tail.str.len_chars() > 0)
        .then(pl.concat_str(head, pl.lit(separator), tail))
        .otherwise(head)
    )


def normalise_postcode(postcode: pl.Expr, country: pl.Expr) -> pl.Expr:
    """Canonical postcode for tidy input; null where a known country's format does not fit."""
    compact = postcode.str.to_uppercase().str.replace_all(r"[\s\-]", "")
    expr = postcode.str.to_uppercase()
    for code, (pattern, position, separator) in POSTCODE_FORMATS.items():
        canonical = _with_separator(compact, position, separator)
        fits = compact.str.contains(pattern)
        expr = pl.when(country == code).then(pl.when(fits).then(canonical)).otherwise(expr)
    return expr


def normalise_postcodes(postcodes: pl.Series, countries: pl.Series) -> pl.Series:
    """`normalise_postcode` for whole columns: each country's rows go through that country's
    format only (evaluating every country's branch on every row cost ~10x more)."""
    upper = postcodes.cast(pl.Utf8).str.to_uppercase()
    countries = countries.cast(pl.Utf8)
    for code, (pattern, position, separator) in POSTCODE_FORMATS.items():
        rows = (countries == code).fill_null(False).arg_true()
        if rows.len() == 0:
            continue
        compact = upper.gather(rows).str.replace_all(r"[\s\-]", "").to_frame("c")
        fitted = compact.select(
            pl.when(pl.col("c").str.contains(pattern)).then(
                _with_separator(pl.col("c"), position, separator)
            )
        ).to_series()
        upper = upper.scatter(rows, fitted)
    return upper.alias(postcodes.name)
