"""Property-based tests: hostile text anywhere never crashes a cleaner or loses a row."""

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from email_data_platform.lib.profiles import schemas
from email_data_platform.lib.profiles.contacts import CONTACT_TEXT_COLUMNS
from email_data_platform.lib.profiles.emails import EMAIL_PATTERN, normalise_emails
from email_data_platform.lib.profiles.stage import (
    clean_consent_events,
    clean_contacts,
    clean_orders,
)
from email_data_platform.lib.profiles.text import HOSTILE_CHARACTERS, clean_text, tidy_text
from email_data_platform_tests.lib.profiles.raw_frames import NOW, TODAY, contact

HOSTILE_SNIPPETS = [
    "\x00",
    "\u202e",
    "\u200b",
    "\ufeff",
    "😀",
    "<script>alert(1)</script>",
    "'; DROP TABLE x;--",
    "\r\n",
    "\t",
    "ＡＢＣ",
    "x" * 5000,
    "",
    " ",
    "@",
    "+44",
    "07/03/1985",
    "null",
    "\\",
]
hostile_text = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_SNIPPETS),
    st.lists(st.sampled_from(HOSTILE_SNIPPETS), max_size=4).map("".join),
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries({c: hostile_text for c in CONTACT_TEXT_COLUMNS}),
        min_size=1,
        max_size=8,
    )
)
def test_contacts_account_for_every_row_and_stay_valid(rows):
    raw = pl.DataFrame(rows, schema={c: pl.Utf8 for c in CONTACT_TEXT_COLUMNS})
    result = clean_contacts(raw, "prop", today=TODAY)
    assert result.clean.height + result.quarantine.height == raw.height
    assert schemas.validate_table(schemas.CleanProfiles, result.clean, "record_id").passed
    assert schemas.validate_table(schemas.Quarantine, result.quarantine, "record_key").passed


@SETTINGS
@given(st.lists(hostile_text, min_size=1, max_size=6), hostile_text, hostile_text)
def test_one_hostile_field_on_a_good_contact(values, email, phone):
    rows = [
        contact(str(i), first_name=v, city=v, email=email, phone=phone)
        for i, v in enumerate(values)
    ]
    result = clean_contacts(pl.DataFrame(rows), "prop", today=TODAY)
    assert result.clean.height + result.quarantine.height == len(rows)
    names = pl.concat([result.clean["first_name"], result.clean["city"]]).drop_nulls()
    assert not names.str.contains(HOSTILE_CHARACTERS).any()


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "order_record_id": hostile_text,
                "source": hostile_text,
                "amount": hostile_text,
                "currency": hostile_text,
                "order_date": hostile_text,
                "status": hostile_text,
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_orders_never_crash_or_lose_rows(rows):
    raw = pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]})
    result = clean_orders(raw, "prop", today=TODAY)
    assert result.clean.height + result.quarantine.height == raw.height
    assert schemas.validate_table(schemas.CleanOrders, result.clean, "order_record_id").passed


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "event_id": hostile_text,
                "source": hostile_text,
                "email": hostile_text,
                "purpose": st.one_of(
                    hostile_text, st.sampled_from(["analytics", "email_marketing"])
                ),
                "status": st.sampled_from(["granted", "withdrawn", "maybe"]),
                "channel": st.sampled_from(["web_form", "import", "???"]),
                "occurred_at": st.sampled_from(
                    ["2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "x"]
                ),
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_consent_never_crashes_or_loses_rows(rows):
    raw = pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]})
    result = clean_consent_events(raw, "prop", now=NOW)
    assert result.clean.height + result.quarantine.height == raw.height
    assert schemas.validate_table(schemas.CleanConsentEvents, result.clean, "event_id").passed


@SETTINGS
@given(st.lists(hostile_text, min_size=1, max_size=20))
def test_fast_tidy_equals_full_clean(values):
    series = pl.Series("v", values, dtype=pl.Utf8)
    full = series.to_frame().select(clean_text("v")).to_series()
    assert tidy_text(series).to_list() == full.to_list()


@SETTINGS
@given(st.lists(st.one_of(st.emails(), hostile_text), min_size=1, max_size=10))
def test_email_normalisation_is_idempotent(values):
    frame = pl.DataFrame({"email": values}, schema={"email": pl.Utf8})
    once = normalise_emails(tidy_text_frame(frame))
    twice = normalise_emails(once.select("email"))
    assert once["email"].to_list() == twice["email"].to_list()
    assert once["email_key"].to_list() == twice["email_key"].to_list()


def tidy_text_frame(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(tidy_text(frame["email"]))


def test_today_is_respected():
    raw = pl.DataFrame([contact("1", date_of_birth="2026-11-29")])
    early = clean_contacts(raw, "r", today=dt.date(2026, 11, 28))
    assert early.field_issues["rule"].to_list() == ["date_of_birth_in_future"]
    assert early.clean["date_of_birth"].to_list() == [None]
    late = clean_contacts(raw, "r", today=dt.date(2026, 11, 30))
    assert late.field_issues.height == 0
    assert str(late.clean["date_of_birth"].item()) == "2026-11-29"


local_parts = st.from_regex(r"[a-z0-9.+_-]{1,12}", fullmatch=True)
domains = st.sampled_from(["gmail.com", "googlemail.com", "example.co.uk", "bücher.de"])


@SETTINGS
@given(st.lists(st.tuples(local_parts, domains), min_size=1, max_size=10))
def test_every_valid_address_has_a_valid_matching_key(pairs):
    frame = pl.DataFrame({"email": [f"{local}@{domain}" for local, domain in pairs]})
    result = normalise_emails(frame)
    valid = result.filter(pl.col("email_valid"))
    assert valid["email_key"].str.contains(EMAIL_PATTERN).all()
    tagged_after_a_name = valid.filter(~pl.col("email").str.starts_with("+"))
    assert not tagged_after_a_name["email_key"].str.contains("+", literal=True).any()
