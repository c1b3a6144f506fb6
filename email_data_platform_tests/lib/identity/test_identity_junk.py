from datetime import date

import polars as pl

from email_data_platform.lib.identity.junk import null_junk_identifiers


def _frame(rows):
    return pl.DataFrame(rows, orient="row", schema={
        "first_name": pl.Utf8, "last_name": pl.Utf8, "email_key": pl.Utf8,
        "phone": pl.Utf8, "date_of_birth": pl.Date})


def test_role_and_placeholder_emails_are_nulled_real_ones_kept():
    frame = _frame([
        ("Ann", "Lee", "info@acme.com", None, None),
        ("Bob", "Ray", "noreply@shop.co.uk", None, None),
        ("Cat", "Fox", "cat.fox@example.com", None, None),
        ("Dan", "Cho", "xxxx@gmail.com", None, None),
        ("Eve", "Orr", "eve.orr@gmail.com", None, None),
    ])
    cleaned, counts = null_junk_identifiers(frame)
    assert cleaned["email_key"].to_list() == [None, None, None, None, "eve.orr@gmail.com"]
    assert counts["email"] == 4


def test_dummy_phones_and_placeholder_birthdays_are_nulled():
    frame = _frame([
        ("Ann", "Lee", None, "+10000000000", date(1900, 1, 1)),
        ("Bob", "Ray", None, "+441234567890", date(1984, 6, 2)),
        ("Cat", "Fox", None, "+447700900123", date(1991, 2, 3)),
    ])
    cleaned, counts = null_junk_identifiers(frame)
    assert cleaned["phone"].to_list() == [None, None, "+447700900123"]
    assert cleaned["date_of_birth"].to_list() == [None, date(1984, 6, 2), date(1991, 2, 3)]
    assert counts == {"email": 0, "phone": 2, "date_of_birth": 1}


def test_identifier_shared_by_many_people_is_nulled_but_a_household_keeps_it():
    strangers = [(f"Name{i}", f"Surname{i}", "shared@corp.com", "+447700900001", None)
                 for i in range(8)]
    household = [("Ann", "Khan", None, "+447700900999", None),
                 ("Raj", "Khan", None, "+447700900999", None),
                 ("Ali", "Khan", None, "+447700900999", None)]
    cleaned, _ = null_junk_identifiers(_frame(strangers + household))
    assert cleaned["email_key"].null_count() == 11
    assert cleaned["phone"].to_list()[:8] == [None] * 8
    assert cleaned["phone"].to_list()[8:] == ["+447700900999"] * 3
