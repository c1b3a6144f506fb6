import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from email_data_platform.lib.profiles.dates import parse_dates, parse_timestamps

MARCH_7 = dt.date(1985, 3, 7)


@pytest.mark.parametrize(
    "text",
    [
        "1985-03-07",
        "07/03/1985",
        "07.03.1985",
        "March 7, 1985",
        "march 7, 1985",
        "Mar 7, 1985",
        "7 March 1985",
        "March 7th, 1985",
        "1985/03/07",
        "19850307",
        "1985-03-07T00:00:00Z",
        "7-Mar-1985",
    ],
)
def test_date_formats_day_first(text):
    assert parse_dates(pl.Series([text])).to_list() == [MARCH_7]


def test_slash_dates_follow_the_country_order_and_fall_back_when_impossible():
    texts = pl.Series(["03/07/1985", "03/07/1985", "25/03/1985", "03/25/1985"])
    month_first = pl.Series([True, False, True, False])
    assert parse_dates(texts, month_first).to_list() == [
        MARCH_7,
        dt.date(1985, 7, 3),
        dt.date(1985, 3, 25),
        dt.date(1985, 3, 25),
    ]


@pytest.mark.parametrize("text", ["31/31/1999", "0000-00-00", "not a date", "1985-02-30", ""])
def test_impossible_dates_are_null(text):
    assert parse_dates(pl.Series([text])).to_list() == [None]


def test_timestamps_to_utc():
    texts = pl.Series(
        [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.123Z",
            "2024-01-02T05:04:05+02:00",
            "2024-01-02 03:04:05",
            "1704164645000",
            "yesterday",
            None,
        ]
    )
    parsed = parse_timestamps(texts)
    assert parsed.dtype == pl.Datetime("us", "UTC")
    expected = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    values = parsed.to_list()
    assert values[0] == values[2] == values[3] == values[4] == expected
    assert values[1] == expected.replace(microsecond=123000)
    assert values[5:] == [None, None]


FORMATS_DAY_FIRST = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%B %d, %Y", "%d %B %Y", "%Y/%m/%d"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), st.sampled_from(FORMATS_DAY_FIRST)
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_every_supported_format_round_trips(pairs):
    texts = pl.Series([day.strftime(fmt) for day, fmt in pairs])
    assert parse_dates(texts).to_list() == [day for day, _ in pairs]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), min_size=1, max_size=30))
def test_us_records_read_slashes_month_first(days):
    texts = pl.Series([day.strftime("%m/%d/%Y") for day in days])
    month_first = pl.Series([True] * len(days))
    assert parse_dates(texts, month_first).to_list() == days


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=20))
def test_any_text_gives_a_date_or_null(texts):
    parsed = parse_dates(pl.Series(texts, dtype=pl.Utf8))
    assert parsed.dtype == pl.Date and parsed.len() == len(texts)
