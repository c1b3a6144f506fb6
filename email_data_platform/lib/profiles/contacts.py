"""CRM contacts: raw `sources.crm_contacts` rows to `profiles.clean_profiles` plus quarantine.

Every raw row ends in exactly one place: clean (latest version of a live record with a usable
identifier) or quarantine (with the rule it broke). A bad optional value on a kept record
(date of birth, phone, postcode, country, city, company, or an invalid email beside another
identifier) is nulled and recorded in `profiles.field_issues` instead. Archived CRM records are
quarantined under `archived_in_source` so that raw = clean + quarantined holds without special
cases.
When a record appears twice, the latest version (by `updated_at`, then `extracted_at`) decides:
an older valid copy never stands in for an invalid latest one, because the source has moved on.
"""

import datetime as dt
import logging

import polars as pl

from email_data_platform.lib.clock import as_of
from email_data_platform.lib.profiles.countries import to_iso_alpha2
from email_data_platform.lib.profiles.dates import (
    MONTH_FIRST_COUNTRIES,
    parse_dates,
    parse_timestamps,
)
from email_data_platform.lib.profiles.emails import normalise_emails
from email_data_platform.lib.profiles.field_issues import FieldRule, apply_field_rules
from email_data_platform.lib.profiles.names import MARKUP_PATTERN, normalise_names
from email_data_platform.lib.profiles.phones import normalise_phones
from email_data_platform.lib.profiles.postcodes import normalise_postcodes
from email_data_platform.lib.profiles.quarantine import Rule
from email_data_platform.lib.profiles.staging import (
    KEY_COLUMNS,
    RAW_PREFIX,
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


def _valid_birth_date(today: dt.date) -> pl.Expr:
    dob = pl.col("date_of_birth")
    return dob.is_not_null() & (dob <= pl.lit(today)) & (dob >= pl.lit(EARLIEST_BIRTH_DATE))


def _usable_identifier(today: dt.date) -> pl.Expr:
    """Something identity can match on: a valid email, a phone, or a name (first or last) with
    a date of birth or postcode (older CRMs hold no email or phone, and still name their
    customers; a record missing its first name is still that customer's)."""
    named = pl.col("first_name").is_not_null() | pl.col("last_name").is_not_null()
    anchored = _valid_birth_date(today) | pl.col("postal_code").is_not_null()
    email = pl.col("email").is_not_null() & pl.col("email_valid")
    return (email | pl.col("phone").is_not_null() | (named & anchored)).fill_null(False)


def contact_rules(today: dt.date) -> list[Rule]:
    """Whole-row rules, in precedence order: the first rule a row breaks is its quarantine
    `rule`. A bad optional value is a field issue (`contact_field_rules`), not a lost row."""
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
        markup_rule(["first_name", "last_name"]),
        Rule(
            "no_usable_identifier",
            "no valid email, no phone, and no name with a date of birth or postcode",
            ~_usable_identifier(today),
        ),
    ]


def contact_field_rules(today: dt.date) -> list[FieldRule]:
    """Field-level rules: the value is nulled on the kept profile and recorded as an issue."""
    dob = pl.col("date_of_birth")

    def given(column: str) -> pl.Expr:
        return raw_col(column).str.contains(r"\w")

    return [
        FieldRule("email", "email_invalid", "email is not a valid address",
                  pl.col("email").is_not_null() & ~pl.col("email_valid"), ("email_key",)),
        FieldRule("date_of_birth", "date_of_birth_unparseable",
                  "date_of_birth is in no known date format",
                  dob.is_null() & pl.col("__date_of_birth_text").is_not_null()),
        FieldRule("date_of_birth", "date_of_birth_in_future", "date_of_birth is in the future",
                  dob > pl.lit(today)),
        FieldRule("date_of_birth", "date_of_birth_before_1900",
                  "date_of_birth is before 1900-01-01", dob < pl.lit(EARLIEST_BIRTH_DATE)),
        FieldRule("phone", "phone_unparseable", "phone is not a possible phone number",
                  given("phone") & pl.col("phone").is_null()),
        FieldRule("country", "country_unknown", "country names no known country",
                  given("country") & pl.col("country").is_null()),
        FieldRule("postal_code", "postal_code_invalid",
                  "postal_code does not fit the country's postcode format",
                  given("postal_code") & pl.col("postal_code").is_null()),
        FieldRule("city", "city_markup", "markup (HTML or script) in city",
                  raw_col("city").str.contains(MARKUP_PATTERN)),
        FieldRule("company", "company_markup", "markup (HTML or script) in company",
                  raw_col("company").str.contains(MARKUP_PATTERN)),
    ]


def _note_flags(field_rules: list[FieldRule]) -> dict[str, pl.Expr]:
    """Fields blanked on a kept row: the record is still useful, the value was not."""
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
        **{rule.name: rule.violated for rule in field_rules},
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
    today = today or as_of().date()
    conformed = conform(raw, CONTACT_TEXT_COLUMNS)
    if "archived" not in conformed.columns:
        conformed = conformed.with_columns(pl.lit(False).alias("archived"))
    conformed = conformed.with_columns(pl.col("archived").cast(pl.Boolean, strict=False))
    derived = _derive_contact_columns(conformed, default_region)
    staged, split = stage_and_split(raw, conformed, derived, key="record_id",
                                    order_by=["updated_at", "extracted_at"],
                                    rules=contact_rules(today), table_name=TABLE_NAME,
                                    run_id=run_id)
    field_rules = contact_field_rules(today)
    noted = split.passed.with_columns(cleaning_notes(split.passed, _note_flags(field_rules)))
    clean, issues = apply_field_rules(noted, field_rules, table_name=TABLE_NAME,
                                      source=raw_col("source"), record_key=raw_col("record_id"),
                                      raw_prefix=RAW_PREFIX, run_id=run_id)
    logger.info(
        "contacts: %d raw, %d clean, %d quarantined, %d field issues",
        staged.height,
        clean.height,
        split.quarantine.height,
        issues.height,
    )
    return CleanResult(clean=clean.select(CLEAN_PROFILE_COLUMNS), quarantine=split.quarantine,
                       field_issues=issues)
