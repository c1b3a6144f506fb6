import polars as pl
import pytest

from email_data_platform.lib.profiles.emails import normalise_emails


def _normalise(*emails: str | None) -> pl.DataFrame:
    return normalise_emails(pl.DataFrame({"email": list(emails)}, schema={"email": pl.Utf8}))


@pytest.mark.parametrize(
    ("raw", "email", "key"),
    [
        ("John.Smith@Example.COM", "john.smith@example.com", "john.smith@example.com"),
        ("john.smith+news@example.com", "john.smith+news@example.com", "john.smith@example.com"),
        ("J.O.H.N+x@GoogleMail.com", "j.o.h.n+x@googlemail.com", "john@gmail.com"),
        ("john.smith@gmail.com", "john.smith@gmail.com", "johnsmith@gmail.com"),
        ("ann@bücher.de", "ann@xn--bcher-kva.de", "ann@xn--bcher-kva.de"),
    ],
)
def test_normalised_address_and_matching_key(raw, email, key):
    row = _normalise(raw).row(0, named=True)
    assert (row["email"], row["email_key"], row["email_valid"]) == (email, key, True)


@pytest.mark.parametrize(
    "raw",
    [
        "a@@b.com",
        "@example.com",
        "user@domain",
        "no-at-sign",
        "joe..bloggs@gmail.com",
        "john.smith@",
        "n/a",
        "jo hn@example.com",
        "ann@ü@b.de",
        "x" * 250 + "@example.com",
    ],
)
def test_invalid_addresses_are_flagged_without_a_key(raw):
    row = _normalise(raw).row(0, named=True)
    assert row["email_valid"] is False
    assert row["email_key"] is None


def test_missing_email_is_not_valid_but_not_rewritten():
    row = _normalise(None).row(0, named=True)
    assert row == {"email": None, "email_valid": False, "email_key": None}


def test_other_rows_keep_their_text_when_a_domain_is_internationalised():
    frame = _normalise("bad@@x.com", "ann@bücher.de")
    assert frame["email"].to_list() == ["bad@@x.com", "ann@xn--bcher-kva.de"]
    assert frame["email_valid"].to_list() == [False, True]
