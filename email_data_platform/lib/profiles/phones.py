"""Phone numbers to E.164, vectorised first, the `phonenumbers` library only for leftovers.

`phonenumbers` costs ~24 us per number on this machine (24 s per million rows), so polars
decides every number whose shape is plain: digits and punctuation, international (+CC or 00CC)
or national in the record's country. The rules come from the library's own metadata (country
calling codes, national trunk prefixes, possible national-number lengths), so the vectorised
verdict is the library's `is_possible_number` verdict, computed in bulk. Only what the rules
cannot decide (letters, unknown calling codes, odd lengths) goes to the library, once per
distinct (number, region) pair; `benchmarks/clean_profiles.py` reports that share.

A number is accepted when it has a possible length for its country, not when it is allocated
to an operator: CRM test data and drama ranges (07700 900xxx) are real contact data to us,
and allocation tables change faster than our pins.
"""

import functools
import logging

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata

logger = logging.getLogger(__name__)

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_EXTENSION = r"(?i)\s*(?:ext\.?|extension|x|#)\s*[0-9]{1,6}$"
_PUNCTUATION_ONLY = r"^\+?[0-9\s\-\.\(\)/]+$"


@functools.cache
def _calling_code_tables() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(region -> calling code, region -> trunk prefix, possible "cc|length" strings)."""
    region_code: dict[str, str] = {}
    trunk_prefix: dict[str, str] = {}
    possible: set[str] = set()
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        main = PhoneMetadata.metadata_for_region(regions[0])
        if main is None:  # non-geographic codes (+800, +882 ...) are left to the library
            continue
        possible.update(f"{code}|{n}" for n in main.general_desc.possible_length)
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region(region)
            region_code[region] = str(code)
            prefix = metadata.national_prefix if metadata else None
            if prefix and prefix.isdigit():
                trunk_prefix[region] = prefix
    return region_code, trunk_prefix, sorted(possible)


@functools.cache
def _calling_code_by_head() -> dict[str, str]:
    """Every 3-digit head -> the calling code it starts with. Calling codes are prefix-free,
    so the first three digits of an international number decide its code (one hash lookup
    instead of three slices and three membership tests)."""
    codes = {str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
    by_head = {}
    for number in range(1000):
        head = f"{number:03d}"
        found = [head[:n] for n in (1, 2, 3) if head[:n] in codes]
        if found:
            by_head[head] = found[0]
    return by_head


def _digits_of(number: pl.Expr) -> pl.Expr:
    """Digits only. "(0)" goes first and whole: "+44 (0)20 ..." is +44 20 ..., the (0) is the
    trunk prefix written for national callers. (A regex class replace measured ~4x faster
    than `replace_many` here.)"""
    without_trunk_hint = number.str.replace_all("(0)", "", literal=True)
    return without_trunk_hint.str.replace_all(r"[^0-9]", "")


def vectorised_e164(staged: pl.DataFrame) -> pl.Series:
    """E.164 for plain numbers with a possible length; null where the rules cannot decide.

    `staged` has `number` (tidy text) and `region` (ISO alpha-2). Steps are materialised one
    `with_columns` at a time: nesting the expressions instead re-evaluates shared parts.
    """
    region_code, trunk_prefix, possible = _calling_code_tables()
    number, region = pl.col("number"), pl.col("region")
    steps = staged.select(
        number.str.contains(_PUNCTUATION_ONLY).fill_null(False).alias("plain"),
        number.str.starts_with("+").alias("plus"),
        _digits_of(number).alias("digits"),
        region.replace_strict(region_code, default=None, return_dtype=pl.Utf8).alias("home"),
        region.replace_strict(trunk_prefix, default=None, return_dtype=pl.Utf8).alias("trunk"),
    )
    digits, trunk = pl.col("digits"), pl.col("trunk")
    steps = steps.with_columns(
        pl.when(pl.col("plus"))
        .then(digits)
        .when(digits.str.starts_with("00"))
        .then(digits.str.slice(2))
        .alias("international"),
        (trunk.is_not_null() & digits.str.starts_with(trunk.fill_null("-"))).alias("has_trunk"),
    )
    head = pl.col("international").str.slice(0, 3)
    intl_code = head.replace_strict(_calling_code_by_head(), default=None, return_dtype=pl.Utf8)
    steps = steps.with_columns(intl_code.alias("intl_code"))
    is_intl = pl.col("international").is_not_null()
    home_national = (
        pl.when(pl.col("has_trunk")).then(digits.str.slice(trunk.str.len_chars())).otherwise(digits)
    )
    steps = steps.with_columns(
        pl.when(is_intl).then(pl.col("intl_code")).otherwise(pl.col("home")).alias("code"),
        pl.when(is_intl)
        .then(pl.col("international").str.slice(pl.col("intl_code").str.len_chars()))
        .otherwise(home_national)
        .alias("national"),
    )
    code, national = pl.col("code"), pl.col("national")
    length_key = pl.concat_str(code, pl.lit("|"), national.str.len_chars().cast(pl.Utf8))
    decided = pl.col("plain") & length_key.is_in(possible).fill_null(False)
    e164 = pl.when(decided).then(pl.concat_str(pl.lit("+"), code, national))
    return steps.select(e164.alias("e164")).to_series()


@functools.cache
def _trunk_zero_codes() -> list[str]:
    """Calling codes whose home region dials a 0 trunk prefix: their national numbers never
    start with 0, so "+33 0..." is a placeholder, not a number."""
    codes = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        main = PhoneMetadata.metadata_for_region(regions[0])
        if main is not None and main.national_prefix == "0":
            codes.append(str(code))
    return sorted(codes)


def drop_placeholders(e164: pl.Series) -> pl.Series:
    """Null out numbers of a possible length that are still placeholders (one digit repeated,
    "0000000000", or a national part starting with the trunk prefix 0) or exceed E.164."""
    frame = e164.to_frame("e164").with_columns(
        pl.col("e164").str.slice(1).alias("digits"),
        _calling_code_of_e164(pl.col("e164")).alias("code"),
    )
    national = pl.col("digits").str.slice(pl.col("code").str.len_chars())
    repeated = (
        pl.col("digits")
        .str.slice(-7)
        .str.contains(r"^(?:0{7}|1{7}|2{7}|3{7}|4{7}|5{7}|6{7}|7{7}|8{7}|9{7})$")
    )
    zero_after_code = pl.col("code").is_in(_trunk_zero_codes()) & national.str.starts_with("0")
    # E.164 caps a number at 15 digits, though some countries' possible lengths allow more.
    too_long = ~pl.col("e164").str.contains(E164_PATTERN)
    placeholder = (repeated | zero_after_code | too_long).fill_null(False)
    return frame.select(pl.when(~placeholder).then(pl.col("e164"))).to_series().alias(e164.name)


def _calling_code_of_e164(e164: pl.Expr) -> pl.Expr:
    head = e164.str.slice(1, 3)
    return head.replace_strict(_calling_code_by_head(), default=None, return_dtype=pl.Utf8)


def _library_e164(number: str, region: str | None) -> str | None:
    """One leftover number through `phonenumbers`; None when it cannot be a phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _resolve_leftovers(staged: pl.DataFrame) -> pl.Series:
    """`e164`, with rows the rules left open filled by the library, once per distinct value."""
    e164 = staged.get_column("e164")
    open_rows = (e164.is_null() & staged.get_column("number").is_not_null()).arg_true()
    if open_rows.len() == 0:
        return e164
    leftovers = staged.select("number", "region")[open_rows]
    resolved = {pair: _library_e164(*pair) for pair in set(leftovers.iter_rows())}
    logger.info(
        "phones: %d of %d rows left to phonenumbers (%d distinct)",
        leftovers.height,
        staged.height,
        len(resolved),
    )
    filled = pl.Series([resolved[pair] for pair in leftovers.iter_rows()], dtype=pl.Utf8)
    return e164.scatter(open_rows, filled)


def normalise_phones(
    frame: pl.DataFrame,
    column: str = "phone",
    region_column: str | None = "country",
    default_region: str | None = "GB",
) -> pl.DataFrame:
    """Replace `column` (tidy text) with its E.164 form, null when not a phone number.

    `region_column` holds the record's ISO alpha-2 country (already cleaned); numbers written in
    national format are read in that country, or in `default_region` when it is missing.
    Adds `phone_valid` (False where a number was present but unusable).
    """
    region = pl.col(region_column) if region_column else pl.lit(None, dtype=pl.Utf8)
    region = region.fill_null(pl.lit(default_region, dtype=pl.Utf8))
    number = pl.col(column).cast(pl.Utf8).str.replace(_EXTENSION, "").str.slice(0, 64)
    staged = frame.select(number.alias("number"), region.alias("region"))
    e164 = drop_placeholders(_resolve_leftovers(staged.with_columns(vectorised_e164(staged))))
    return frame.with_columns(
        e164.alias(column),
        (staged["number"].is_null() | e164.is_not_null()).alias("phone_valid"),
    )


def library_share(frame: pl.DataFrame, column: str = "phone", region: str = "country") -> float:
    """Share of non-null numbers the rules leave to the library (reported by the benchmark)."""
    staged = frame.select(
        pl.col(column).str.replace(_EXTENSION, "").alias("number"),
        pl.col(region).fill_null("GB").alias("region"),
    )
    decided = vectorised_e164(staged).is_not_null().sum()
    present = staged["number"].is_not_null().sum()
    return 0.0 if present == 0 else 1 - decided / present
