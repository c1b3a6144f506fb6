"""CRM orders (deals): raw `sources.crm_orders` rows to `profiles.clean_orders` plus quarantine."""

import datetime as dt
import logging

import polars as pl

from email_data_platform.lib.clock import as_of
from email_data_platform.lib.profiles.dates import parse_dates, parse_timestamps
from email_data_platform.lib.profiles.money import normalise_currency, parse_amount
from email_data_platform.lib.profiles.quarantine import Rule
from email_data_platform.lib.profiles.staging import (
    KEY_COLUMNS,
    RECORD_KEY_PATTERN,
    CleanResult,
    conform,
    extracted_at_series,
    malformed_key_rule,
    missing_fields_rule,
    raw_col,
    stage_and_split,
    too_long_rule,
)
from email_data_platform.lib.profiles.text import tidy_text_columns

logger = logging.getLogger(__name__)

TABLE_NAME = "crm_orders"
ORDER_TEXT_COLUMNS = [
    "order_record_id",
    "source",
    "object_id",
    "contact_record_id",
    "amount",
    "currency",
    "order_date",
    "status",
    "updated_at",
]
ORDER_STATUSES = ("paid", "refunded", "cancelled")
EARLIEST_ORDER_DATE = dt.date(1900, 1, 1)
CLEAN_ORDER_COLUMNS = [
    "order_record_id",
    "contact_record_id",
    "amount",
    "currency",
    "order_date",
    "status",
    "updated_at",
    "source",
    "extracted_at",
]


def order_rules(today: dt.date) -> list[Rule]:
    """Precedence order: the first rule a row breaks is its quarantine `rule`."""
    return [
        missing_fields_rule(["order_record_id", "source", "amount", "currency"]),
        malformed_key_rule("order_record_id", RECORD_KEY_PATTERN),
        Rule(
            "superseded_version",
            "a newer version of this order is in the same extract",
            pl.col("__superseded"),
        ),
        too_long_rule({c: 200 for c in ORDER_TEXT_COLUMNS}),
        Rule("amount_unparseable", "amount is not a plain decimal", pl.col("amount").is_null()),
        Rule("amount_negative", "amount is negative", pl.col("amount") < 0),
        Rule(
            "currency_unknown",
            "currency is not an active ISO 4217 code",
            pl.col("currency").is_null(),
        ),
        Rule(
            "order_date_unparseable",
            "order_date is in no known date format",
            pl.col("order_date").is_null() & raw_col("order_date").str.contains(r"\S"),
        ),
        Rule("order_date_in_future", "order_date is in the future", pl.col("order_date") > today),
        Rule(
            "order_date_before_1900",
            "order_date is before 1900-01-01",
            pl.col("order_date") < pl.lit(EARLIEST_ORDER_DATE),
        ),
        Rule(
            "status_unknown",
            f"status is not one of {', '.join(ORDER_STATUSES)}",
            ~pl.col("status").is_in(list(ORDER_STATUSES)).fill_null(False),
        ),
    ]


def clean_orders(raw: pl.DataFrame, run_id: str, *, today: dt.date | None = None) -> CleanResult:
    """Clean raw CRM orders into `profiles.clean_orders` rows and quarantine rows.

    Amounts become Decimal(18,2); the latest version of an order (by `updated_at`) wins.
    """
    today = today or as_of().date()
    conformed = conform(raw, ORDER_TEXT_COLUMNS)
    tidy = tidy_text_columns(conformed, [c for c in ORDER_TEXT_COLUMNS if c not in KEY_COLUMNS])
    derived = tidy.select(ORDER_TEXT_COLUMNS).with_columns(
        parse_amount("amount").alias("amount"),
        normalise_currency("currency").alias("currency"),
        pl.col("status").str.to_lowercase(),
        parse_dates(tidy.get_column("order_date")).alias("order_date"),
        parse_timestamps(tidy.get_column("updated_at")).alias("updated_at"),
        extracted_at_series(conformed),
    )
    staged, split = stage_and_split(raw, conformed, derived, key="order_record_id",
                                    order_by=["updated_at", "extracted_at"],
                                    rules=order_rules(today), table_name=TABLE_NAME,
                                    run_id=run_id)
    logger.info("orders: %d raw, %d clean", staged.height, split.passed.height)
    return CleanResult(split.passed.select(CLEAN_ORDER_COLUMNS), split.quarantine)
