"""Corruptions that make duplicate CRM records of one person look different, vectorised.

Each function takes the records frame (one row per CRM record, clean person values plus `rank`,
0 for the person's first record) and returns it with some values corrupted. Rates are chosen so a
2,000-row sample shows every kind, and entity resolution has real work to do.
"""

import numpy as np
import polars as pl

from email_data_platform.sandbox.generator_people import draw_address, pick, render_by_choice
from email_data_platform.sandbox.wordlists import (
    COUNTRIES,
    EMAIL_TAGS,
    MONTH_NAMES,
    NICKNAMES,
)

LOWER = tuple("abcdefghijklmnopqrstuvwxyz")


def chance(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate


def typo_edits(text: pl.Series, rng: np.random.Generator) -> pl.Series:
    """One keyboard edit (delete, substitute, insert or transpose) per value of length > 2.

    The first character is left alone: people rarely mistype the capital they start with.
    """
    n = len(text)
    t = pl.col("t")
    pos = 1 + (pl.col("u") * (t.str.len_chars() - 1)).floor().cast(pl.Int64)
    head = t.str.slice(0, pos)
    kind, letter = pl.col("kind"), pl.col("letter")
    edited = (
        pl.when(kind == 0).then(head + t.str.slice(pos + 1))
        .when(kind == 1).then(head + letter + t.str.slice(pos + 1))
        .when(kind == 2).then(head + letter + t.str.slice(pos))
        .otherwise(head + t.str.slice(pos + 1, 1) + t.str.slice(pos, 1) + t.str.slice(pos + 2))
    )
    frame = pl.DataFrame({"t": text, "u": rng.random(n) * 0.999, "kind": rng.integers(0, 4, n),
                          "letter": pick(LOWER, rng.integers(0, len(LOWER), n))})
    return frame.select(pl.when(t.str.len_chars() > 2).then(edited).otherwise(t)).to_series()


def apply_typos(records: pl.DataFrame, column: str, mask: np.ndarray,
                rng: np.random.Generator) -> pl.DataFrame:
    """Typo the masked rows of `column`; only those rows are touched, so it stays cheap."""
    rows = np.flatnonzero(mask)
    edited = typo_edits(records[column].gather(rows), rng)
    return records.with_columns(records[column].scatter(rows, edited))


def corrupt_names(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Typos (1-2 edits), nicknames, upper case and first/last swaps on duplicate records."""
    n = records.height
    dup = records["rank"].to_numpy() > 0
    first_typo = dup & chance(rng, n, 0.12)
    records = apply_typos(records, "first_name", first_typo, rng)
    records = apply_typos(records, "first_name", first_typo & chance(rng, n, 0.3), rng)
    records = apply_typos(records, "last_name", dup & chance(rng, n, 0.10), rng)
    nickname = pl.Series(dup & chance(rng, n, 0.2))
    shout = pl.Series(dup & chance(rng, n, 0.04))
    swap = pl.Series(dup & chance(rng, n, 0.04))
    first, last = pl.col("first_name"), pl.col("last_name")
    records = records.with_columns(
        first_name=pl.when(nickname).then(first.replace(NICKNAMES)).otherwise(first))
    records = records.with_columns(
        first_name=pl.when(shout).then(first.str.to_uppercase()).otherwise(first),
        last_name=pl.when(shout).then(last.str.to_uppercase()).otherwise(last),
    )
    return records.with_columns(
        first_name=pl.when(swap).then(last).otherwise(first),
        last_name=pl.when(swap).then(first).otherwise(last),
    )


def corrupt_emails(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Case changes, gmail dots, +tags, a related second address or no email on duplicates."""
    n = records.height
    dup = records["rank"].to_numpy() > 0
    kind = rng.choice(6, size=n, p=(0.48, 0.12, 0.10, 0.10, 0.12, 0.08))
    kind = np.where(dup, kind, np.where(chance(rng, n, 0.04), 1, 0))  # first records: case only
    email, u = pl.col("email"), pl.col("u")
    local = email.str.split_exact("@", 1).struct.field("field_0")
    domain = email.str.split_exact("@", 1).struct.field("field_1")
    cut = (u * local.str.len_chars()).floor().cast(pl.Int64).clip(1)
    dotted = local.str.slice(0, cut) + "." + local.str.slice(cut) + "@" + domain
    renderings = [
        email,
        pl.when(u < 0.5).then(email.str.to_uppercase()).otherwise(email.str.to_titlecase()),
        pl.when(domain == "gmail.com").then(dotted).otherwise(email),
        local + "+" + pl.col("tag") + "@" + domain,
        pl.col("alt_email"),
        pl.lit(None, dtype=pl.Utf8),
    ]
    inputs = records.select("email", "alt_email").with_columns(
        u=pl.Series(rng.random(n)), tag=pick(EMAIL_TAGS, rng.integers(0, len(EMAIL_TAGS), n)))
    return records.with_columns(email=render_by_choice(inputs, kind, renderings))


def drop_fields(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Missing phone, dob and company: rare on first records, common on duplicates."""
    n = records.height
    dup = records["rank"].to_numpy() > 0
    rate = np.where(dup, 1.0, 0.3)
    nulls = {c: pl.Series(rng.random(n) < rate * p) for c, p in
             (("phone_nsn", 0.12), ("date_of_birth", 0.12), ("company", 0.3))}
    return records.with_columns(
        **{c: pl.when(mask).then(None).otherwise(pl.col(c)) for c, mask in nulls.items()})


def move_addresses(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Give ~15% of duplicate records a newer address in the same country (the person moved)."""
    n = records.height
    moved = (records["rank"].to_numpy() > 0) & chance(rng, n, 0.15)
    country = records["country_idx"].to_numpy()
    city, postcode = records["city"], records["postal_code"]
    for ci, profile in enumerate(COUNTRIES):
        rows = np.flatnonzero(moved & (country == ci))
        if len(rows):
            address = draw_address(rng, profile, len(rows))
            city = city.scatter(rows, address["city"])
            postcode = postcode.scatter(rows, address["postal_code"])
    return records.with_columns(city=city, postal_code=postcode)


def format_phones(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Write each phone the way a person typed it: +44 20..., 020 ..., 0044..., (020) ..."""
    nsn, cc = pl.col("phone_nsn"), pl.col("phone_cc")
    length = nsn.str.len_chars()
    b_len = pl.when(length == 11).then(4).otherwise(3)
    a_len = length - b_len - 4
    a = nsn.str.slice(0, a_len)
    b = nsn.str.slice(a_len, b_len)
    c = nsn.str.slice(a_len + b_len)
    us = cc == "1"
    # Spain and the US dial national numbers without a leading 0 (trunk prefix).
    no_trunk = cc.is_in(["1", "34"])
    trunk = pl.when(no_trunk).then(pl.lit("")).otherwise(pl.lit("0"))
    national = trunk + nsn
    renderings = [
        "+" + cc + nsn,
        "+" + cc + " " + a + " " + b + " " + c,
        pl.when(us).then("(" + a + ") " + b + "-" + c).otherwise(trunk + a + " " + b + " " + c),
        pl.when(us).then("1-" + a + "-" + b + "-" + c).otherwise("00" + cc + " " + a + " " + b + c),
        trunk + a + "-" + b + "-" + c,
        pl.when(us).then(national).otherwise("(" + trunk + a + ") " + b + " " + c),
        pl.when(no_trunk).then(national).otherwise("+" + cc + " (0)" + a + " " + b + c),
        national,
    ]
    formats = rng.choice(8, size=records.height, p=(0.2, 0.2, 0.25, 0.05, 0.08, 0.07, 0.05, 0.1))
    inputs = records.select("phone_nsn", "phone_cc")
    return records.with_columns(phone=render_by_choice(inputs, formats, renderings))


def spell_countries(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Country as the ISO code on ~60% of rows, otherwise one of the ways CRMs spell it."""
    n = records.height
    spellings = [s for c in COUNTRIES for s in c.spellings]
    sizes = np.array([len(c.spellings) for c in COUNTRIES])
    first_of_country = np.cumsum(sizes) - sizes  # the ISO code leads each country's spellings
    country = records["country_idx"].to_numpy()
    variant = (rng.random(n) * sizes[country]).astype(np.int64)
    variant = np.where(rng.random(n) < 0.6, 0, variant)
    return records.with_columns(country=pick(spellings, first_of_country[country] + variant))


def format_birth_dates(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """ISO dates on most rows; 07/03/1985 (US: 03/07/1985), 07.03.1985, "March 7, 1985"."""
    n = records.height
    dob = pl.col("date_of_birth")
    month_name = dob.dt.month().replace_strict(
        dict(enumerate(MONTH_NAMES, start=1)), return_dtype=pl.Utf8)
    us = pl.col("phone_cc") == "1"
    text = (
        pl.when(pl.col("_fmt") == 1).then(
            pl.when(us).then(dob.dt.strftime("%m/%d/%Y")).otherwise(dob.dt.strftime("%d/%m/%Y")))
        .when(pl.col("_fmt") == 2).then(dob.dt.strftime("%d.%m.%Y"))
        .when(pl.col("_fmt") == 3).then(
            month_name + " " + dob.dt.day().cast(pl.Utf8) + ", " + dob.dt.year().cast(pl.Utf8))
        .otherwise(dob.dt.strftime("%Y-%m-%d"))
    )
    formats = rng.choice(4, size=n, p=(0.7, 0.12, 0.1, 0.08))
    return records.with_columns(_fmt=pl.Series(formats)).with_columns(
        date_of_birth=text).drop("_fmt")
