"""ESP engagement and consent events: raw rows to `profiles.clean_esp_events` and
`profiles.clean_consent_events`, plus quarantine.

Events are immutable facts keyed by `event_id`; an event delivered twice keeps its latest
extraction and the other copies are quarantined as `duplicate_event`.
"""

import datetime as dt
import logging

import polars as pl

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
CONSENT_TABLE_NAME = "consent_raw"
ESP_TEXT_COLUMNS = ["event_id", "source", "email", "event_type", "occurred_at", "campaign_id"]
CONSENT_TEXT_COLUMNS = [
    "event_id",
    "source",
    "contact_record_id",
    "email",
    "purpose",
    "status",
    "channel",
    "occurred_at",
    "policy_version",
]
ESP_EVENT_TYPES = ("sent", "open", "click", "bounce", "unsubscribe", "complaint")
CONSENT_PURPOSES = ("email_marketing", "personalisation", "analytics")
CONSENT_STATUSES = ("granted", "withdrawn")
CONSENT_CHANNELS = ("web_form", "checkout", "preference_centre", "import")
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
CLEAN_CONSENT_COLUMNS = [
    "event_id",
    "source",
    "contact_record_id",
    "email",
    "purpose",
    "status",
    "channel",
    "occurred_at",
    "policy_version",
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
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Shared event cleaning; `vocabulary_columns` hold codes compared in lower case."""
    conformed = conform(raw, text_columns)
    tidy = tidy_text_columns(conformed, [c for c in text_columns if c not in KEY_COLUMNS])
    tidy = tidy.with_columns(pl.col(vocabulary_columns).str.to_lowercase())
    derived = normalise_emails(tidy.select(text_columns)).with_columns(
        parse_timestamps(tidy.get_column("occurred_at")).alias("occurred_at"),
        extracted_at_series(conformed),
    )
    staged, split = stage_and_split(raw, conformed, derived, key="event_id",
                                    order_by=["extracted_at"], rules=rules,
                                    table_name=table_name, run_id=run_id)
    logger.info("%s: %d raw, %d clean", table_name, staged.height, split.passed.height)
    return split.passed, split.quarantine


def clean_esp_events(
    raw: pl.DataFrame, run_id: str, *, now: dt.datetime | None = None
) -> CleanResult:
    """Clean ESP engagement events (opens, clicks, bounces...) into `clean_esp_events`."""
    now = now or dt.datetime.now(dt.UTC)
    rules = [
        *_event_rules(["event_id", "source", "email"], ESP_TEXT_COLUMNS, now, _invalid_email()),
        _known("event_type", ESP_EVENT_TYPES),
    ]
    clean, quarantine = _clean_events(
        raw, run_id, ESP_TEXT_COLUMNS, rules, ESP_TABLE_NAME, ["event_type"]
    )
    return CleanResult(clean.select(CLEAN_ESP_COLUMNS), quarantine)


def clean_consent_events(
    raw: pl.DataFrame, run_id: str, *, now: dt.datetime | None = None
) -> CleanResult:
    """Clean consent decisions into `profiles.clean_consent_events`.

    Purpose, status and channel must be known values: an unknown purpose cannot be honoured,
    so it is quarantined rather than guessed. A decision needs a subject (record or email).
    An invalid email does not void a decision made by a known CRM record: the email is blanked
    and the decision kept (dropping a withdrawal would be the unsafe failure).
    """
    now = now or dt.datetime.now(dt.UTC)
    no_subject = pl.col("contact_record_id").is_null() & pl.col("email").is_null()
    invalid_without_record = _invalid_email() & pl.col("contact_record_id").is_null()
    required = ["event_id", "source", "purpose", "status"]
    rules = [
        *_event_rules(required, CONSENT_TEXT_COLUMNS, now, invalid_without_record),
        Rule("subject_missing", "neither contact_record_id nor email is present", no_subject),
        _known("purpose", CONSENT_PURPOSES),
        _known("status", CONSENT_STATUSES),
        _known("channel", CONSENT_CHANNELS),
    ]
    clean, quarantine = _clean_events(
        raw,
        run_id,
        CONSENT_TEXT_COLUMNS,
        rules,
        CONSENT_TABLE_NAME,
        ["purpose", "status", "channel"],
    )
    clean = clean.with_columns(pl.when(pl.col("email_valid")).then(pl.col("email")).alias("email"))
    return CleanResult(clean.select(CLEAN_CONSENT_COLUMNS), quarantine)
