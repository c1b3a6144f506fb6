import re

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.profiles.phones import library_share, normalise_phones


def _e164(numbers: list[str | None], countries: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame(
        {"phone": numbers, "country": countries}, schema={"phone": pl.Utf8, "country": pl.Utf8}
    )
    return normalise_phones(frame)["phone"].to_list()


# The shapes the synthetic CRM produces (sandbox/generator_corrupt.format_phones), per country.
@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+442079460958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0044 20 79460958", "GB", "+442079460958"),
        ("020-7946-0958", "GB", "+442079460958"),
        ("(020) 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 79460958", "GB", "+442079460958"),
        ("07700 900123", "GB", "+447700900123"),
        ("(212) 555-0100", "US", "+12125550100"),
        ("1-212-555-0100", "US", "+12125550100"),
        ("2125550100", "US", "+12125550100"),
        ("+49 (0)30 1234567", "DE", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("0151 12345678", "DE", "+4915112345678"),
        ("01 49 12 34 56", "FR", "+33149123456"),
        ("+353 1 234 5678", "IE", "+35312345678"),
        ("020 123 4567", "NL", "+31201234567"),
        ("91 680 3478", "ES", "+34916803478"),
        ("+34 91 680 3478", "GB", "+34916803478"),
        ("07700 900123 ext. 12", "GB", "+447700900123"),
    ],
)
def test_formats_become_e164(raw, country, expected):
    assert _e164([raw], [country]) == [expected]


@pytest.mark.parametrize("raw", ["n/a", "0000000000", "12", "call me", "+999 123"])
def test_junk_is_blanked_and_flagged(raw):
    frame = normalise_phones(pl.DataFrame({"phone": [raw], "country": ["FR"]}))
    assert frame.row(0) == (None, "FR", False)


def test_missing_number_stays_missing_and_is_not_a_failure():
    frame = normalise_phones(
        pl.DataFrame(
            {"phone": [None], "country": ["GB"]}, schema={"phone": pl.Utf8, "country": pl.Utf8}
        )
    )
    assert frame.row(0) == (None, "GB", True)


def test_national_number_without_country_uses_the_default_region():
    frame = pl.DataFrame(
        {"phone": ["020 7946 0958"], "country": [None]},
        schema={"phone": pl.Utf8, "country": pl.Utf8},
    )
    assert normalise_phones(frame, default_region="GB")["phone"].item() == "+442079460958"
    assert normalise_phones(frame, default_region=None)["phone"].item() is None


def test_vectorised_rules_agree_with_the_library():
    """Every number the bulk rules decide gets the library's own answer."""
    numbers = [
        "+44 20 7946 0958",
        "0161 496 0000",
        "(415) 555-0132",
        "+33 1 49 12 34 56",
        "06 12 34 56 78",
        "+31 6 12345678",
        "0 87 123 4567",
        "+49 170 1234567",
        "612 345 678",
        "+1 604 555 0199",
    ]
    countries = ["GB", "GB", "US", "FR", "FR", "NL", "IE", "DE", "ES", "CA"]
    ours = _e164(numbers, countries)
    for number, country, e164 in zip(numbers, countries, ours, strict=True):
        parsed = phonenumbers.parse(number, country)
        assert e164 == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_library_share_counts_only_undecided_numbers():
    frame = pl.DataFrame({"phone": ["020 7946 0958", "call me", None], "country": ["GB"] * 3})
    assert library_share(frame) == pytest.approx(0.5)


def test_numbers_longer_than_e164_allows_are_blanked():
    assert _e164(["+49 123456789012345"], ["DE"]) == [None]


phone_like = st.from_regex(r"\+?[0-9 ()\-.]{0,24}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(phone_like, st.sampled_from(["GB", "US", "DE", "FR", "IT", None])),
        min_size=1,
        max_size=20,
    )
)
def test_output_is_always_e164_or_null(rows):
    numbers = [n for n, _ in rows]
    countries = [c for _, c in rows]
    for value in _e164(numbers, countries):
        assert value is None or re.fullmatch(r"\+[1-9][0-9]{6,14}", value)
