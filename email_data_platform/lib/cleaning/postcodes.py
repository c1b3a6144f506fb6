"""Postal codes, normalised per country where the format is known.

UK postcodes get their canonical spacing ("SW1A1AA" -> "SW1A 1AA"), US ZIP codes keep 5 or 5+4
digits, other countries are upper-cased and trimmed. An unrecognisable UK or US code is blanked
(and noted) rather than failing the record: the address is a matching hint, not a key.
"""

import polars as pl

_GB_POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
_US_ZIP = r"^[0-9]{5}(?:-?[0-9]{4})?$"


def normalise_postcode(postcode: pl.Expr, country: pl.Expr) -> pl.Expr:
    """Canonical postcode for tidy input; null where a GB/US code does not fit its format."""
    upper = postcode.str.to_uppercase()
    compact = upper.str.replace_all(r"[\s\-]", "")
    gb = pl.concat_str(
        compact.str.slice(0, compact.str.len_chars() - 3), pl.lit(" "), compact.str.slice(-3)
    )
    us = (
        pl.when(compact.str.len_chars() == 9)
        .then(pl.concat_str(compact.str.slice(0, 5), pl.lit("-"), compact.str.slice(5)))
        .otherwise(compact)
    )
    return (
        pl.when(country == "GB")
        .then(pl.when(compact.str.contains(_GB_POSTCODE)).then(gb))
        .when(country == "US")
        .then(pl.when(upper.str.contains(_US_ZIP)).then(us))
        .otherwise(upper)
    )
