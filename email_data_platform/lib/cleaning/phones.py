"""Phone numbers to E.164, vectorised first, the `phonenumbers` library only for leftovers.

`phonenumbers` costs ~24 us per number on this machine (24 s per million rows), so the common
shapes are decided by polars rules: UK numbers (+44 / 0044 / national 0 trunk prefix, with or
without a "(0)") and North American numbers (+1 / 10 digits). Everything else (other countries,
vanity letters, odd punctuation) goes to the library, once per distinct (number, region) pair.

A number is accepted when it has a possible length for its country (`is_possible_number`),
not when it is allocated to an operator: CRM test data and drama ranges (07700 900xxx) are real
contact data to us, and allocation tables change faster than our pins.
"""

import logging

import phonenumbers
import polars as pl

from email_data_platform.lib.cleaning.text import clean_text

logger = logging.getLogger(__name__)

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_EXTENSION = r"(?i)\s*(?:ext\.?|extension|x|#)\s*[0-9]{1,6}$"
_PUNCTUATION_ONLY = r"^\+?[0-9\s\-\.\(\)/]+$"
_GB_SIGNIFICANT = r"^[1-9][0-9]{8,9}$"
_NANP_SIGNIFICANT = r"^[2-9][0-9]{2}[2-9][0-9]{6}$"


def _vectorised_e164(tidy: pl.Expr, region: pl.Expr) -> pl.Expr:
    """E.164 for UK and North American numbers decidable from digits alone; null otherwise."""
    no_trunk_hint = tidy.str.replace_all(r"\(0\)", "")
    digits = no_trunk_hint.str.replace_all(r"[^0-9]", "")
    international = (
        pl.when(no_trunk_hint.str.starts_with("+"))
        .then(digits)
        .when(digits.str.starts_with("00"))
        .then(digits.str.slice(2))
    )
    gb_intl = international.str.strip_prefix("44")
    gb_intl = pl.when(gb_intl.str.starts_with("0")).then(gb_intl.str.slice(1)).otherwise(gb_intl)
    us_intl = international.str.strip_prefix("1")
    national = pl.when(international.is_null()).then(digits)
    gb_national = national.str.strip_prefix("0")
    us_national = pl.when(national.str.len_chars() == 11).then(national.str.strip_prefix("1"))
    us_national = us_national.fill_null(national)
    plain = tidy.str.contains(_PUNCTUATION_ONLY)
    return (
        pl.when(~plain)
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(international.str.starts_with("44") & gb_intl.str.contains(_GB_SIGNIFICANT))
        .then(pl.concat_str(pl.lit("+44"), gb_intl))
        .when(international.str.starts_with("1") & us_intl.str.contains(_NANP_SIGNIFICANT))
        .then(pl.concat_str(pl.lit("+1"), us_intl))
        .when(
            (region == "GB")
            & national.str.starts_with("0")
            & gb_national.str.contains(_GB_SIGNIFICANT)
        )
        .then(pl.concat_str(pl.lit("+44"), gb_national))
        .when(region.is_in(["US", "CA"]) & us_national.str.contains(_NANP_SIGNIFICANT))
        .then(pl.concat_str(pl.lit("+1"), us_national))
    )


def _library_e164(number: str, region: str | None) -> str | None:
    """One leftover number through `phonenumbers`; None when it cannot be a phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_phones(
    frame: pl.DataFrame,
    column: str = "phone",
    region_column: str | None = "country",
    default_region: str | None = "GB",
) -> pl.DataFrame:
    """Replace `column` with its E.164 form (null when not a phone) and add `phone_valid`.

    `region_column` holds the record's ISO alpha-2 country (already cleaned); numbers written in
    national format are read in that country, or in `default_region` when it is missing.
    """
    region = pl.col(region_column) if region_column else pl.lit(None, dtype=pl.Utf8)
    region = region.fill_null(pl.lit(default_region, dtype=pl.Utf8))
    tidy_number = clean_text(column).str.replace(_EXTENSION, "").str.slice(0, 64)
    staged = frame.select(tidy_number.alias("number"), region.alias("region"))
    staged = staged.with_columns(_vectorised_e164(pl.col("number"), pl.col("region")).alias("e164"))
    leftovers = staged.filter(pl.col("e164").is_null() & pl.col("number").is_not_null())
    if leftovers.height:
        distinct = leftovers.select("number", "region").unique()
        resolved = distinct.with_columns(
            pl.Series(
                "library_e164",
                [_library_e164(n, r) for n, r in distinct.iter_rows()],
                dtype=pl.Utf8,
            )
        )
        logger.info(
            "phones: %d of %d rows left to phonenumbers (%d distinct)",
            leftovers.height,
            staged.height,
            distinct.height,
        )
        staged = staged.join(
            resolved,
            on=["number", "region"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        staged = staged.with_columns(pl.coalesce("e164", "library_e164").alias("e164"))
    return frame.with_columns(
        staged["e164"].alias(column),
        (staged["number"].is_null() | staged["e164"].is_not_null()).alias("phone_valid"),
    )


def library_fraction(frame: pl.DataFrame, column: str = "phone") -> float:
    """Share of non-null numbers the vectorised rules leave to the library (for benchmarks)."""
    staged = frame.select(
        clean_text(column).str.replace(_EXTENSION, "").alias("number"),
        pl.col("country").fill_null("GB").alias("region"),
    )
    decided = staged.select(_vectorised_e164(pl.col("number"), pl.col("region")).is_not_null())
    present = staged["number"].is_not_null().sum()
    return 0.0 if present == 0 else 1 - decided.to_series().sum() / present
