"""CRM contacts: raw `sources.crm_contacts` rows to `profiles.clean_profiles` plus quarantine.

Every raw row ends in exactly one place: clean (latest version of a live, valid record) or
quarantine (with the rule it broke). Archived CRM records are quarantined under
`archived_in_source` so that raw = clean + quarantined holds without special cases.
When a record appears twice, the latest version (by `updated_at`, then `extracted_at`) decides:
an older valid copy never stands in for an invalid latest one, because the source has moved on.
"""

import datetime as dt
import logging

import polars as pl

from email_data_platform.lib.profiles.countries import to_iso_alpha2
from email_data_platform.lib.profiles.dates import (
    MONTH_FIRST_COUNTRIES,
    parse_dates,
    parse_timestamps,
)
from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.profiles.names import normalise_names
from email_data_platform.lib.profiles.phones import normalise_phones
from email_data_platform.lib.profiles.postcodes import normalise_postcodes
from email_data_platform.lib.profiles.quarantine import Rule
from email_data_platform.lib.profiles.staging import (
    KEY_COLUMNS,
    RECORD_KEY_PATTERN,
    CleanResult,
    cleaning_notes,
    conform,
    extracted_at_series,
    malformed_key_rule,
    markup_rule,
    missing_fields_rule,
    raw_col,
    stage_and_split,
    too_long_rule,
)
from email_data_platform.lib.profiles.text import blank_placeholders, tidy_text_columns

logger = logging.getLogger(__name__)

TABLE_NAME = "crm_contacts"
CONTACT_TEXT_COLUMNS = [
    "record_id",
    "source",
    "object_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "city",
    "postal_code",
    "country",
    "company",
    "created_at",
    "updated_at",
]
CLEAN_PROFILE_COLUMNS = [
    "record_id",
    "source",
    "object_id",
    "first_name",
    "last_name",
    "email",
    "email_key",
    "phone",
    "date_of_birth",
    "city",
    "postal_code",
    "country",
    "company",
    "created_at",
    "updated_at",
    "cleaning_notes",
    "extracted_at",
]
FIELD_LENGTH_LIMITS = {
    "record_id": 200,
    "object_id": 100,
    "first_name": 200,
    "last_name": 200,
    "email": 320,
    "phone": 64,
    "date_of_birth": 64,
    "city": 200,
    "postal_code": 32,
    "country": 100,
    "company": 500,
    "created_at": 64,
    "updated_at": 64,
}
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)
PLACEHOLDER_COLUMNS = ("email", "phone", "date_of_birth", "city", "postal_code", "company")


def _derive_contact_columns(raw: pl.DataFrame, default_region: str | None) -> pl.DataFrame:
    """The clean columns (contract names) for every raw row, before any rule is applied."""
    tidy = tidy_text_columns(raw, [c for c in CONTACT_TEXT_COLUMNS if c not in KEY_COLUMNS])
    country = to_iso_alpha2(tidy.get_column("country"))
    derived = tidy.select(CONTACT_TEXT_COLUMNS).with_columns(
        country.alias("country"),
        *[blank_placeholders(tidy.get_column(c)).alias(c) for c in PLACEHOLDER_COLUMNS],
    )
    derived = normalise_names(derived)
    derived = normalise_emails(derived)
    derived = normalise_phones(derived, default_region=default_region)
    month_first = derived.get_column("country").is_in(list(MONTH_FIRST_COUNTRIES))
    return derived.with_columns(
        parse_dates(derived.get_column("date_of_birth"), month_first).alias("date_of_birth"),
        # The text that was parsed, placeholders removed: empty means "no date given".
        derived.get_column("date_of_birth").alias("__date_of_birth_text"),
        parse_timestamps(derived.get_column("created_at")).alias("created_at"),
        parse_timestamps(derived.get_column("updated_at")).alias("updated_at"),
        normalise_postcodes(derived["postal_code"], derived["country"]).alias("postal_code"),
        pl.col("city").str.to_titlecase(),
        extracted_at_series(raw),
    )


def contact_rules(today: dt.date) -> list[Rule]:
    """Precedence order: the first rule a row breaks is its quarantine `rule`."""
    dob = pl.col("date_of_birth")
    return [
        missing_fields_rule(["record_id", "source"]),
        malformed_key_rule("record_id", RECORD_KEY_PATTERN),
        Rule("archived_in_source", "the record is archived in the CRM", raw_col("archived")),
        Rule(
            "superseded_version",
            "a newer version of this record_id is in the same extract",
            pl.col("__superseded"),
        ),
        too_long_rule(FIELD_LENGTH_LIMITS),
        markup_rule(["first_name", "last_name", "company", "city"]),
        Rule(
            "email_invalid",
            "email is not a valid address",
            pl.col("email").is_not_null() & ~pl.col("email_valid"),
        ),
        Rule(
            "date_of_birth_unparseable",
            "date_of_birth is in no known date format",
            pl.col("date_of_birth").is_null() & pl.col("__date_of_birth_text").is_not_null(),
        ),
        Rule("date_of_birth_in_future", "date_of_birth is in the future", dob > pl.lit(today)),
        Rule(
            "date_of_birth_before_1900",
            "date_of_birth is before 1900-01-01",
            dob < pl.lit(EARLIEST_BIRTH_DATE),
        ),
    ]


def _note_flags() -> dict[str, pl.Expr]:
    """Fields blanked on a kept row: the record is still useful, the value was not."""
    present = {c: raw_col(c).str.contains(r"\w") for c in ("phone", "country", "postal_code")}
    placeholder = {
        c: raw_col(c).str.contains(r"\S") & text.is_null()
        for c, text in (
            ("email", pl.col("email")),
            ("date_of_birth", pl.col("__date_of_birth_text")),
        )
    }
    return {
        "email_placeholder": placeholder["email"],
        "date_of_birth_placeholder": placeholder["date_of_birth"],
        "phone_unparseable": present["phone"] & pl.col("phone").is_null(),
        "country_unknown": present["country"] & pl.col("country").is_null(),
        "postal_code_invalid": present["postal_code"] & pl.col("postal_code").is_null(),
        "updated_at_unparseable": raw_col("updated_at").is_not_null()
        & pl.col("updated_at").is_null(),
    }


def clean_contacts(
    raw: pl.DataFrame,
    run_id: str,
    *,
    today: dt.date | None = None,
    default_region: str | None = "GB",
) -> CleanResult:
    """Clean raw CRM contacts into `profiles.clean_profiles` rows and quarantine rows.

    Args:
        raw: `sources.crm_contacts` as read from the warehouse (extra columns are ignored,
            missing ones treated as empty).
        run_id: the run producing the result, stamped on quarantine rows.
        today: the date that "in the future" is judged against (default: today, UTC).
        default_region: country used to read national-format phone numbers when the record
            has none.

    Returns:
        CleanResult with `.clean` (one row per live record_id) and `.quarantine`.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    conformed = conform(raw, CONTACT_TEXT_COLUMNS)
    if "archived" not in conformed.columns:
        conformed = conformed.with_columns(pl.lit(False).alias("archived"))
    conformed = conformed.with_columns(pl.col("archived").cast(pl.Boolean, strict=False))
    derived = _derive_contact_columns(conformed, default_region)
    staged, split = stage_and_split(raw, conformed, derived, key="record_id",
                                    order_by=["updated_at", "extracted_at"],
                                    rules=contact_rules(today), table_name=TABLE_NAME,
                                    run_id=run_id)
    clean = split.passed.with_columns(cleaning_notes(split.passed, _note_flags()))
    logger.info(
        "contacts: %d raw, %d clean, %d quarantined",
        staged.height,
        clean.height,
        split.quarantine.height,
    )
    return CleanResult(clean=clean.select(CLEAN_PROFILE_COLUMNS), quarantine=split.quarantine)
