"""Junk identifiers: values that look like an email or phone but identify nobody.

Placeholder emails (`test@test.com`), role addresses (`info@`, `noreply@`), dummy phones
(`+10000000000`) and values shared by many different people would merge strangers into one
entity, because an exact email or phone match is the strongest evidence the model knows.
They are nulled in the matching frame only; the clean profile keeps what the source sent.
"""

import logging
from datetime import date

import polars as pl

logger = logging.getLogger(__name__)

ROLE_LOCAL_PARTS = (
    "info", "noreply", "no-reply", "no.reply", "donotreply", "do-not-reply", "admin",
    "administrator", "support", "sales", "contact", "hello", "office", "enquiries", "inquiries",
    "marketing", "billing", "accounts", "help", "team", "webmaster", "postmaster", "mail",
    "test", "testing", "example", "user", "none", "null", "nobody", "unknown", "na", "n-a",
    "noemail", "no-email", "no.email", "nomail", "dummy", "fake", "asdf", "xxx", "abc",
)
PLACEHOLDER_DOMAINS = (
    "example.com", "example.org", "example.net", "test.com", "test.test", "email.com",
    "domain.com", "noemail.com", "none.com", "mailinator.com", "invalid", "localhost",
)
# Dates people type when a form forces a birthday they do not want to give.
PLACEHOLDER_DATES_OF_BIRTH = (date(1900, 1, 1), date(1901, 1, 1), date(1970, 1, 1))
# An identifier used by more different names than a household plausibly has.
MAX_NAMES_PER_IDENTIFIER = 6


# One character repeated ("aaaa@", "x@", "0000000"): regex has no back-references in polars, so
# the alternatives are spelled out; a regex scan is far cheaper than splitting into characters.
_REPEATED_CHAR = "|".join(f"{c}+" for c in "abcdefghijklmnopqrstuvwxyz0123456789")
_REPEATED_DIGIT = "|".join(f"{d}{{6,}}" for d in "0123456789")


def junk_email_expr(column: str = "email_key") -> pl.Expr:
    """True where the email is a role address, a placeholder or sits on a placeholder domain."""
    email = pl.col(column).str.to_lowercase()
    local = email.str.extract(r"^([^@]+)@", 1)
    domain = email.str.extract(r"@([^@]+)$", 1)
    return (
        local.is_in(ROLE_LOCAL_PARTS)
        | domain.is_in(PLACEHOLDER_DOMAINS)
        | local.str.contains(f"^(?:{_REPEATED_CHAR})$")
    ).fill_null(False)


def junk_phone_expr(column: str = "phone") -> pl.Expr:
    """True for dummy numbers: a digit repeated six times or more, a run such as 1234567, or
    too few digits to be a subscriber number."""
    digits = pl.col(column).str.replace_all(r"\D", "").str.slice(-10)
    dummy = digits.str.contains(
        f"{_REPEATED_DIGIT}|1234567|2345678|3456789|9876543|8765432|0123456"
    )
    return (dummy | (digits.str.len_chars() < 6)).fill_null(False)


def shared_identifiers(frame: pl.DataFrame, column: str,
                       max_names: int = MAX_NAMES_PER_IDENTIFIER) -> pl.Series:
    """Identifier values used by more distinct names than a household has.

    Only values held by more than `max_names` records can qualify, so distinct names are
    counted for those few values rather than over the whole population.
    """
    crowded = (
        frame.group_by(column).len().filter(pl.col("len") > max_names)
        .drop_nulls(column).select(column)
    )
    if crowded.height == 0:
        return pl.Series(column, [], frame.schema[column])
    names = frame.join(crowded, on=column).group_by(column).agg(
        pl.concat_str(["first_name", "last_name"], separator=" ", ignore_nulls=True).n_unique()
        .alias("names")
    )
    return names.filter(pl.col("names") > max_names)[column]


def null_junk_identifiers(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Null junk emails, phones and dates of birth; return the frame and counts per kind.

    Expects `email_key`, `phone`, `date_of_birth` (Date), `first_name`, `last_name`.
    """
    shared_emails = shared_identifiers(frame, "email_key").implode()
    shared_phones = shared_identifiers(frame, "phone").implode()
    flagged = frame.with_columns(
        (junk_email_expr("email_key") | pl.col("email_key").is_in(shared_emails).fill_null(False))
        .alias("_junk_email"),
        (junk_phone_expr("phone") | pl.col("phone").is_in(shared_phones).fill_null(False))
        .alias("_junk_phone"),
        pl.col("date_of_birth").is_in(PLACEHOLDER_DATES_OF_BIRTH).fill_null(False)
        .alias("_junk_dob"),
    )
    counts = flagged.select(
        pl.col("_junk_email").sum().alias("email"),
        pl.col("_junk_phone").sum().alias("phone"),
        pl.col("_junk_dob").sum().alias("date_of_birth"),
    ).row(0, named=True)
    cleaned = flagged.with_columns(
        pl.when(~pl.col("_junk_email")).then(pl.col("email_key")).alias("email_key"),
        pl.when(~pl.col("_junk_phone")).then(pl.col("phone")).alias("phone"),
        pl.when(~pl.col("_junk_dob")).then(pl.col("date_of_birth")).alias("date_of_birth"),
    ).drop("_junk_email", "_junk_phone", "_junk_dob")
    if any(counts.values()):
        logger.info("nulled junk identifiers before matching: %s", counts)
    return cleaned, {k: int(v) for k, v in counts.items()}
