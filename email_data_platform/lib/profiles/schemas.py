"""Pandera models for every profiles table: raw inputs (warned on) and clean outputs (enforced).

Clean models are the contract of `docs/tables.md` plus the rules of issue 4; they run as
blocking asset checks so bad data never reaches identity or activation. Raw models describe what
a healthy extract looks like; failing them only warns, because the cleaners quarantine bad rows.

`validate_table` turns pandera's failure cases into a summary that holds no raw values: per
column and check, how many rows fail and a few record keys, never the failing value itself
(it may be an email address or a birth date).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import pandera.polars as pa
import polars as pl

from email_data_platform.lib.clock import as_of
from email_data_platform.lib.profiles.consent_events import (
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    CONSENT_STATUSES,
)
from email_data_platform.lib.profiles.countries import ISO_ALPHA2_CODES
from email_data_platform.lib.profiles.emails import EMAIL_PATTERN
from email_data_platform.lib.profiles.events import ESP_EVENT_TYPES
from email_data_platform.lib.profiles.money import ISO_4217_CURRENCIES
from email_data_platform.lib.profiles.orders import ORDER_STATUSES
from email_data_platform.lib.profiles.phones import E164_PATTERN
from email_data_platform.lib.profiles.staging import EVENT_KEY_PATTERN, RECORD_KEY_PATTERN

UtcDatetime = Annotated[pl.Datetime, "us", "UTC"]
Amount = Annotated[pl.Decimal, 18, 2]
EARLIEST_DATE = dt.date(1900, 1, 1)
_SAMPLE_KEYS = 5


def _not_in_future(data: pa.PolarsData) -> pl.LazyFrame:
    """True where the value is not after today (evaluated at validation time, not import)."""
    column = pl.col(data.key)
    today = as_of()
    limit = today.date() if data.lazyframe.collect_schema()[data.key] == pl.Date else today
    return data.lazyframe.select(column.is_null() | (column <= pl.lit(limit)))


class _Model(pa.DataFrameModel):
    class Config:
        strict = False  # stages may add columns (docs/tables.md); contract columns are checked
        coerce = False


class CleanProfiles(_Model):
    record_id: str = pa.Field(unique=True, str_matches=RECORD_KEY_PATTERN)
    source: str
    object_id: str = pa.Field(nullable=True)
    first_name: str = pa.Field(nullable=True)
    last_name: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True, str_matches=EMAIL_PATTERN)
    email_key: str = pa.Field(nullable=True, str_matches=EMAIL_PATTERN)
    phone: str = pa.Field(nullable=True, str_matches=E164_PATTERN)
    date_of_birth: pl.Date = pa.Field(nullable=True, ge=EARLIEST_DATE)
    city: str = pa.Field(nullable=True)
    postal_code: str = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True, isin=sorted(ISO_ALPHA2_CODES))
    company: str = pa.Field(nullable=True)
    created_at: UtcDatetime = pa.Field(nullable=True)
    updated_at: UtcDatetime = pa.Field(nullable=True)

    @pa.check("date_of_birth", name="not_in_future")
    def date_of_birth_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _not_in_future(data)


class CleanOrders(_Model):
    order_record_id: str = pa.Field(unique=True, str_matches=RECORD_KEY_PATTERN)
    contact_record_id: str = pa.Field(nullable=True)
    amount: Amount = pa.Field(ge=0)
    currency: str = pa.Field(isin=sorted(ISO_4217_CURRENCIES))
    order_date: pl.Date = pa.Field(nullable=True, ge=EARLIEST_DATE)
    status: str = pa.Field(isin=list(ORDER_STATUSES))
    updated_at: UtcDatetime = pa.Field(nullable=True)

    @pa.check("order_date", name="not_in_future")
    def order_date_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _not_in_future(data)


class CleanEspEvents(_Model):
    event_id: str = pa.Field(unique=True, str_matches=EVENT_KEY_PATTERN)
    source: str
    email: str = pa.Field(str_matches=EMAIL_PATTERN)
    event_type: str = pa.Field(isin=list(ESP_EVENT_TYPES))
    occurred_at: UtcDatetime = pa.Field()
    campaign_id: str = pa.Field(nullable=True)

    @pa.check("occurred_at", name="not_in_future")
    def occurred_at_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _not_in_future(data)


class CleanConsentEvents(_Model):
    event_id: str = pa.Field(unique=True, str_matches=EVENT_KEY_PATTERN)
    source: str
    contact_record_id: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True, str_matches=EMAIL_PATTERN)
    purpose: str = pa.Field(isin=list(CONSENT_PURPOSES))
    status: str = pa.Field(isin=list(CONSENT_STATUSES))
    channel: str = pa.Field(isin=list(CONSENT_CHANNELS))
    occurred_at: UtcDatetime = pa.Field()
    policy_version: str = pa.Field(nullable=True)

    @pa.check("occurred_at", name="not_in_future")
    def occurred_at_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _not_in_future(data)

    @pa.dataframe_check(error="a consent event needs a contact_record_id or an email")
    def has_subject(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("contact_record_id").is_not_null() | pl.col("email").is_not_null()
        )


class Quarantine(_Model):
    source: str
    table_name: str
    record_key: str
    rule: str
    reason: str
    raw_record: str
    run_id: str
    quarantined_at: UtcDatetime


class _RawModel(_Model):
    source: str = pa.Field(nullable=True)
    run_id: str = pa.Field(nullable=True)


class RawCrmContacts(_RawModel):
    record_id: str = pa.Field(unique=True)
    email: str = pa.Field(nullable=True, str_contains="@")
    archived: bool = pa.Field(nullable=True)


class RawCrmOrders(_RawModel):
    order_record_id: str = pa.Field(unique=True, str_matches=RECORD_KEY_PATTERN)
    amount: str = pa.Field(nullable=True, str_matches=r"^\s*\d[\d,]*(?:\.\d+)?\s*$")
    currency: str = pa.Field(nullable=True, isin=sorted(ISO_4217_CURRENCIES))


class RawEspEvents(_RawModel):
    event_id: str = pa.Field(unique=True)
    event_type: str = pa.Field(nullable=True, isin=list(ESP_EVENT_TYPES))


class RawConsent(_RawModel):
    event_id: str = pa.Field(unique=True)
    purpose: str = pa.Field(nullable=True, isin=list(CONSENT_PURPOSES))
    channel: str = pa.Field(nullable=True, isin=list(CONSENT_CHANNELS))


@dataclass(frozen=True)
class ValidationSummary:
    """A pandera verdict without raw values: which rules failed, how often, for which keys."""

    rows: int
    failures: pl.DataFrame  # column, check, failing_rows, sample_record_keys

    @property
    def passed(self) -> bool:
        return self.failures.height == 0

    @property
    def failing_rows(self) -> int:
        return int(self.failures.get_column("failing_rows").sum()) if self.failures.height else 0


def as_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Time zones spelled differently on read-back (DuckDB gives "Etc/UTC") mean the same UTC."""
    zoned = [
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    return frame.with_columns(zoned) if zoned else frame


def validate_table(
    model: type[pa.DataFrameModel], frame: pl.DataFrame, key_column: str
) -> ValidationSummary:
    """Validate `frame` against `model` (lazily, all checks) and summarise without raw values."""
    frame = as_utc(frame)
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return ValidationSummary(frame.height, _summarise(errors.failure_cases, frame, key_column))
    return ValidationSummary(frame.height, _empty_failures())


def splits_by(model: type[pa.DataFrameModel], key_column: str) -> bool:
    """Whether `model` can be checked in parts that keep each `key_column` value whole: every
    uniqueness rule it has (a unique column, or unique column sets) includes that column."""
    schema = model.to_schema()
    unique_sets = [[name] for name, column in schema.columns.items() if column.unique]
    if schema.unique:
        unique_sets.append([schema.unique] if isinstance(schema.unique, str) else schema.unique)
    return key_column in schema.columns and all(key_column in names for names in unique_sets)


def validate_parts(model: type[pa.DataFrameModel], parts: Iterable[pl.DataFrame],
                   key_column: str) -> ValidationSummary:
    """`validate_table` over parts of one table, as one summary (rows of a key in one part)."""
    rows, found = 0, []
    for part in parts:
        summary = validate_table(model, part, key_column)
        rows += summary.rows
        found.append(summary.failures)
    failures = pl.concat([_empty_failures(), *found]).group_by(
        "column", "check", maintain_order=True).agg(
        pl.col("failing_rows").sum(),
        pl.col("sample_record_keys").list.explode(keep_nulls=False, empty_as_null=False)
        .unique(maintain_order=True).head(_SAMPLE_KEYS))
    return ValidationSummary(rows, failures)


def _empty_failures() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "column": pl.Utf8,
            "check": pl.Utf8,
            "failing_rows": pl.Int64,
            "sample_record_keys": pl.List(pl.Utf8),
        }
    )


def _summarise(cases: pl.DataFrame, frame: pl.DataFrame, key_column: str) -> pl.DataFrame:
    """Group failure cases by (column, check); replace row indexes by record keys."""
    key = pl.col(key_column).cast(pl.Utf8) if key_column in frame.columns else pl.lit(None)
    keys = frame.select(key.cast(pl.Utf8).alias("record_key")).with_row_index("index")
    indexed = cases.select(
        pl.col("column").cast(pl.Utf8).fill_null("(table)"),
        pl.col("check")
        .cast(pl.Utf8)
        .str.replace(r"^isin\(.*", "isin(allowed values)")
        .str.slice(0, 120),
        pl.col("index").cast(pl.UInt32),
    )
    with_keys = indexed.join(keys, on="index", how="left", maintain_order="left")
    return with_keys.group_by("column", "check", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("failing_rows"),
        pl.col("record_key")
        .drop_nulls()
        .unique(maintain_order=True)
        .head(_SAMPLE_KEYS)
        .alias("sample_record_keys"),
    )
