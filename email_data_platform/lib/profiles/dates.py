"""Dates and timestamps from the many shapes CRMs export, to polars Date and UTC Datetime.

Slash dates are ambiguous: 07/03/1985 is 7 March in the UK and 3 July in the US. They are read
day-first unless the record's country writes month-first (US and a few others); when the
preferred order cannot be a date (03/25/1985) the other order is tried.

Speed: a non-matching `strptime` format is expensive, so values are first tried with the one
format most exports use, and only the leftovers are routed, by shape, to the few formats that
shape can be. Inputs are expected tidy (see `text.tidy_text`).
"""

import polars as pl

MONTH_FIRST_COUNTRIES = ("US", "PH", "FM", "MH", "PW")

# (shape regex, formats to try in order) for dates that are not ISO.
_DATE_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"^\d{4}[/.]\d{1,2}[/.]\d{1,2}$", ("%Y/%m/%d", "%Y.%m.%d")),
    (r"^\d{8}$", ("%Y%m%d",)),
    (r"^\d{1,2}\.\d{1,2}\.\d{4}$", ("%d.%m.%Y",)),
    (r"(?i)^[a-z]{3,9}\.? \d{1,2},? \d{4}$", ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")),
    (r"(?i)^\d{1,2} [a-z]{3,9}\.?,? \d{4}$", ("%d %B %Y", "%d %b %Y")),
    (r"(?i)^\d{1,2}-[a-z]{3}-\d{4}$", ("%d-%b-%Y",)),
)
_SLASHED = r"^\d{1,2}[/-]\d{1,2}[/-]\d{4}$"
_DAY_FIRST = ("%d/%m/%Y", "%d-%m-%Y")
_MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y")

# Whole seconds with a Z is what the connectors emit; polars parses that fixed shape ~8x faster
# than one with optional fractions, so it goes first and uncached (values are mostly unique).
_FAST_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%MZ",
    "%Y-%m-%d",
)


def _first_date(text: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    return pl.coalesce([text.str.strptime(pl.Date, f, strict=False) for f in formats])


def _parse_leftover_dates(leftovers: pl.DataFrame) -> pl.Series:
    """Dates for distinct (text, month_first) pairs that are not plain ISO, routed by shape."""
    text = pl.col("text").str.replace(r"(\d)(st|nd|rd|th)\b", "$1")  # "March 7th, 1985"
    parsed = pl.lit(None, dtype=pl.Date)
    for shape, formats in _DATE_SHAPES:
        fits = text.str.contains(shape)
        parsed = pl.when(fits).then(_first_date(text, formats)).otherwise(parsed)
    day_first = pl.coalesce(_first_date(text, _DAY_FIRST), _first_date(text, _MONTH_FIRST))
    month_first = pl.coalesce(_first_date(text, _MONTH_FIRST), _first_date(text, _DAY_FIRST))
    slashed = pl.when(pl.col("month_first")).then(month_first).otherwise(day_first)
    parsed = pl.when(text.str.contains(_SLASHED)).then(slashed).otherwise(parsed)
    return leftovers.select(parsed.alias("parsed")).to_series()


def parse_dates(text: pl.Series, month_first: pl.Series | None = None) -> pl.Series:
    """Dates from tidy strings; null where no known format fits.

    A timestamp string ("1985-03-07T00:00:00Z") yields its date part. `month_first` (Boolean,
    same length) says which slash order to prefer per row; default day-first.
    """
    if month_first is None:
        month_first = pl.Series([False] * text.len(), dtype=pl.Boolean)
    frame = pl.DataFrame({"text": text.cast(pl.Utf8), "month_first": month_first.fill_null(False)})
    iso = (
        pl.col("text").str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False, cache=False)
    )
    iso = pl.when(pl.col("text").str.contains(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])")).then(iso)
    parsed = frame.select(iso).to_series()
    open_rows = (parsed.is_null() & frame.get_column("text").is_not_null()).arg_true()
    if open_rows.len() == 0:
        return parsed.alias(text.name)
    # Non-ISO values repeat (dates of birth span ~30,000 days): parse each distinct one once.
    todo = frame[open_rows].select(
        pl.concat_str("text", pl.col("month_first").cast(pl.Utf8), separator="\x1f").alias("key"),
        "text",
        "month_first",
    )
    distinct = todo.unique(subset="key")
    leftover = _parse_leftover_dates(distinct)
    filled = todo.get_column("key").replace_strict(
        distinct.get_column("key"), leftover, default=None, return_dtype=pl.Date
    )
    return parsed.scatter(open_rows, filled).alias(text.name)


def parse_timestamps(text: pl.Series) -> pl.Series:
    """UTC Datetime (microseconds) from ISO 8601-ish strings or epoch milliseconds.

    Values with an offset are converted to UTC; values without one are taken as UTC, which is
    what every connector we read from emits.
    """
    text = text.cast(pl.Utf8)
    fast = text.str.to_datetime(
        _FAST_TIMESTAMP, time_zone="UTC", time_unit="us", strict=False, cache=False
    )
    positions = (fast.is_null() & text.is_not_null()).arg_true()
    if positions.len() == 0:
        return fast.alias(text.name)
    # Each format only sees the values no earlier format read (most values fit the first or
    # second): the same value wins as with every format on every value, at a fraction of the work.
    rest = text.gather(positions)
    resolved = pl.repeat(None, rest.len(), dtype=pl.Datetime("us", "UTC"), eager=True)
    open_rows = pl.arange(0, rest.len(), dtype=pl.UInt32, eager=True)
    for fmt in _TIMESTAMP_FORMATS:
        parsed = rest.gather(open_rows).str.to_datetime(
            fmt, time_zone="UTC", time_unit="us", strict=False)
        read = parsed.is_not_null()
        resolved = resolved.scatter(open_rows.filter(read), parsed.filter(read))
        open_rows = open_rows.filter(~read)
        if open_rows.len() == 0:
            return fast.scatter(positions, resolved).alias(text.name)
    epoch_millis = (
        rest.gather(open_rows).to_frame("t")
        .select(
            pl.when(pl.col("t").str.contains(r"^\d{12,13}$"))
            .then(pl.col("t").cast(pl.Int64, strict=False))
            .cast(pl.Datetime("ms"))
            .dt.cast_time_unit("us")
            .dt.replace_time_zone("UTC")
        )
        .to_series()
    )
    resolved = resolved.scatter(open_rows, epoch_millis)
    return fast.scatter(positions, resolved).alias(text.name)
