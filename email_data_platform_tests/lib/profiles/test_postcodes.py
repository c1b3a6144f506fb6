import polars as pl
import pytest

from email_data_platform.lib.profiles.postcodes import normalise_postcodes


@pytest.mark.parametrize(
    ("code", "country", "expected"),
    [
        ("sw1a1aa", "GB", "SW1A 1AA"),
        ("M0 4BH", "GB", "M0 4BH"),
        ("v94a380", "IE", "V94 A380"),
        ("1082pj", "NL", "1082 PJ"),
        ("02139", "US", "02139"),
        ("021391234", "US", "02139-1234"),
        ("80988", "DE", "80988"),
        ("k1a 0b1", "CA", "K1A 0B1"),
        ("x y", None, "X Y"),
        ("1234-56", "PT", "1234-56"),
    ],
)
def test_postcodes_take_their_country_format(code, country, expected):
    assert normalise_postcodes(pl.Series([code]), pl.Series([country])).to_list() == [expected]


@pytest.mark.parametrize(("code", "country"), [("ABC", "DE"), ("12", "FR"), ("999", "GB")])
def test_codes_that_do_not_fit_a_known_format_are_blanked(code, country):
    assert normalise_postcodes(pl.Series([code]), pl.Series([country])).to_list() == [None]
