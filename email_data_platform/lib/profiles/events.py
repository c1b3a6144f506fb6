"""ESP engagement events to `profiles.clean_esp_events`, plus the event cleaning that consent
events share (consent_events.py).

Events are immutable facts keyed by `event_id`; an event delivered twice keeps its latest
extraction and the other copies are quarantined as `duplicate_event`.
"""

import datetime as dt
import logging
from collections.abc import Callable

import polars as pl

from email_data_platform.lib.clock import as_of
from email_data_platform.lib.profiles.dates import parse_timestamps
from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.profiles.quarantine import Rule
from email_data_platform.lib.profiles.staging import (
    EVENT_KEY_PATTERN,
    KEY_COLUMNS,
    CleanResult,
    conform,
    extracted_at_series,
    malformed_key_rule,
    missing_fields_rule,
    stage_and_split,
    too_long_rule,
)
from email_data_platform.lib.profiles.text import tidy_text_columns

logger = logging.getLogger(__name__)

ESP_TABLE_NAME = "esp_events"
ESP_TEXT_COLUMNS = ["event_id", "source", "email", "event_type", "occurred_at", "campaign_id"]
ESP_EVENT_TYPES = ("sent", "open", "click", "bounce", "unsubscribe", "complaint")
CLEAN_ESP_COLUMNS = [
    "event_id",
    "source",
    "email",
    "event_type",
    "occurred_at",
    "campaign_id",
    "email_key",
    "extracted_at",
]


def _known(column: str, allowed: tuple[str, ...]) -> Rule:
    return Rule(
        f"{column}_unknown",
        f"{column} is not one of {', '.join(allowed)}",
        ~pl.col(column).is_in(list(allowed)).fill_null(False),
    )


def _event_rules(
    required: list[str], text_columns: list[str], now: dt.datetime, email_invalid: pl.Expr
) -> list[Rule]:
    occurred = pl.col("occurred_at")
    return [
        missing_fields_rule(required),
        malformed_key_rule("event_id", EVENT_KEY_PATTERN),
        Rule("duplicate_event", "the same event_id was delivered again", pl.col("__superseded")),
        too_long_rule({c: 320 for c in text_columns}),
        Rule("occurred_at_unparseable", "occurred_at is not a timestamp", occurred.is_null()),
        Rule("occurred_at_in_future", "occurred_at is in the future", occurred > pl.lit(now)),
        Rule("email_invalid", "email is not a valid address", email_invalid),
    ]


def _invalid_email() -> pl.Expr:
    return pl.col("email").is_not_null() & ~pl.col("email_valid")


def _clean_events(
    raw: pl.DataFrame,
    run_id: str,
    text_columns: list[str],
    rules: list[Rule],
    table_name: str,
    vocabulary_columns: list[str],
    refine: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Shared event cleaning; `vocabulary_columns` hold codes compared in lower case.

    `refine` adjusts the derived columns before rules run (consent: status words, fallbacks
    that keep a withdrawal usable whatever its metadata)."""
    conformed = conform(raw, text_columns)
    tidy = tidy_text_columns(conformed, [c for c in text_columns if c not in KEY_COLUMNS])
    tidy = tidy.with_columns(pl.col(vocabulary_columns).str.to_lowercase())
    derived = normalise_emails(tidy.select(text_columns)).with_columns(
        parse_timestamps(tidy.get_column("occurred_at")).alias("occurred_at"),
        extracted_at_series(conformed),
    )
    if refine is not None:
        derived = refine(derived)
    staged, split = stage_and_split(raw, conformed, derived, key="event_id",
                                    order_by=["extracted_at"], rules=rules,
                                    table_name=table_name, run_id=run_id)
    logger.info("%s: %d raw, %d clean", table_name, staged.height, split.passed.height)
    return split.passed, split.quarantine


def clean_esp_events(
    raw: pl.DataFrame, run_id: str, *, now: dt.datetime | None = None
) -> CleanResult:
    """Clean ESP engagement events (opens, clicks, bounces...) into `clean_esp_events`."""
    now = now or as_of()
    rules = [
        *_event_rules(["event_id", "source", "email"], ESP_TEXT_COLUMNS, now, _invalid_email()),
        _known("event_type", ESP_EVENT_TYPES),
    ]
    clean, quarantine = _clean_events(
        raw, run_id, ESP_TEXT_COLUMNS, rules, ESP_TABLE_NAME, ["event_type"]
    )
    return CleanResult(clean.select(CLEAN_ESP_COLUMNS), quarantine)
