import polars as pl
import pytest

from email_data_platform.lib.profiles.names import normalise_names
from email_data_platform.lib.profiles.text import tidy_text_columns


def _names(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    raw = pl.DataFrame(
        {"first_name": [first], "last_name": [last]},
        schema={"first_name": pl.Utf8, "last_name": pl.Utf8},
    )
    frame = normalise_names(tidy_text_columns(raw, ["first_name", "last_name"]))
    return frame.row(0)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("  JOHN ", "o'brien", ("John", "O'Brien")),
        ("mary-jane", "SMITH", ("Mary-Jane", "Smith")),
        ("ＪＯＨＮ", "ｓｍｉｔｈ", ("John", "Smith")),  # full-width forms fold (NFKC)
        ("zoë", "müller", ("Zoë", "Müller")),
        ("Ann\x00e", "Lee\u202e", ("Ann E", "Lee")),  # NUL and RTL override removed
        ("Bob 😀", "Ray42", ("Bob", "Ray")),  # emoji and digits are not name characters
        ("O’Neil", "d’Arcy", ("O'Neil", "D'Arcy")),  # typographic apostrophe unified
        ("🙂", "Lee", (None, "Lee")),
    ],
)
def test_names_are_normalised(first, last, expected):
    assert _names(first, last) == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Mary Jane Smith", None, ("Mary Jane", "Smith")),
        (None, "john smith", ("John", "Smith")),
        ("Smith, John", None, ("John", "Smith")),
        ("Mary Jane", "Smith", ("Mary Jane", "Smith")),  # both present: never re-split
        ("Cher", None, ("Cher", None)),
    ],
)
def test_full_name_in_one_field_is_split(first, last, expected):
    assert _names(first, last) == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Dr. Ann", "Lee", ("Ann", "Lee")),
        ("mrs mary", "Smith", ("Mary", "Smith")),
        ("Drew", "Barrymore", ("Drew", "Barrymore")),
        ("Miss", "Lee", ("Miss", "Lee")),
    ],
)
def test_titles_are_not_part_of_the_name(first, last, expected):
    assert _names(first, last) == expected
