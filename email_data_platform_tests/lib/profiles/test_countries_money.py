import decimal

import polars as pl
import pytest

from email_data_platform.lib.profiles.countries import to_iso_alpha2
from email_data_platform.lib.profiles.money import normalise_currency, parse_amount


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("England", "GB"),
        ("Great Britain", "GB"),
        ("U.S.A.", "US"),
        ("United States of America", "US"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("The Netherlands", "NL"),
        ("Holland", "NL"),
        ("Éire", "IE"),
        ("Republic of Ireland", "IE"),
        ("España", "ES"),
        ("FRA", "FR"),
        ("Côte d’Ivoire", "CI"),
    ],
)
def test_country_spellings_map_to_alpha2(text, code):
    assert to_iso_alpha2(pl.Series([text])).to_list() == [code]


def test_unknown_country_is_null():
    assert to_iso_alpha2(pl.Series(["Atlantis", None])).to_list() == [None, None]


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("123.40", "123.40"),
        ("5", "5.00"),
        ("1,234.50", "1234.50"),
        ("-3.10", "-3.10"),
        ("12,50", None),
        ("1.234", None),
        ("1e5", None),
        ("£12", None),
        ("", None),
    ],
)
def test_amounts_parse_only_when_unambiguous(text, amount):
    parsed = pl.DataFrame({"a": [text]}).select(parse_amount("a")).item()
    assert parsed == (decimal.Decimal(amount) if amount else None)


def test_currency_must_be_active_iso_4217():
    codes = pl.DataFrame({"c": ["gbp", "EUR", "XXX", "ABC", None]}).select(normalise_currency("c"))
    assert codes.to_series().to_list() == ["GBP", "EUR", None, None, None]
