"""CRM contact records: people expanded to 1..4 records each, corrupted, junked and timestamped."""

from datetime import datetime

import numpy as np
import polars as pl

from email_data_platform.sandbox import generator_corrupt as corrupt
from email_data_platform.sandbox.generator_people import (
    add_households,
    draw_people,
    draw_records_per_person,
    fold_ascii,
    pick,
    random_digits,
    render_by_choice,
)
from email_data_platform.sandbox.wordlists import (
    GENERIC_DOMAINS,
    HOSTILE_VALUES,
    INVALID_DATES,
    INVALID_EMAILS,
    PLACEHOLDER_EMAILS,
    PLACEHOLDER_PHONES,
)

CONTACT_COLUMNS = ["id", "first_name", "last_name", "email", "phone", "date_of_birth", "city",
                   "postal_code", "country", "company", "created_at", "updated_at"]
FIRST_CONTACT_ID = 100001
HISTORY_DAYS = 3 * 365
JUNK_RATE = 0.01
INVALID_RATE = 0.005
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def add_emails(people: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """A primary and a related second address per person, both unique across people."""
    n = people.height
    names = pl.DataFrame({
        "f": fold_ascii(people["first_name"]), "l": fold_ascii(people["last_name"]),
        "nn": random_digits(rng, n, 2),
        "yy": (people["date_of_birth"].dt.year() % 100).cast(pl.Utf8).str.zfill(2),
    })
    f, last, nn, yy = pl.col("f"), pl.col("l"), pl.col("nn"), pl.col("yy")
    patterns = [f + "." + last, f + last, f.str.slice(0, 1) + "." + last, f + "_" + last,
                f + "." + last + nn, f + yy, last + "." + f]
    pattern_of = rng.choice(len(patterns), size=n, p=(0.3, 0.15, 0.12, 0.08, 0.15, 0.1, 0.1))
    local = render_by_choice(names, pattern_of, patterns)
    at_work = pl.Series(rng.random(n) < 0.2) & people["company_domain"].is_not_null()
    domain = pl.select(pl.when(at_work).then(people["company_domain"])
                       .otherwise(people["email_domain"])).to_series()
    alt_domain = pick(GENERIC_DOMAINS, rng.integers(0, len(GENERIC_DOMAINS), n))
    alt_local = names["f"] + names["l"] + random_digits(rng, n, 3)
    emails = pl.concat([local + "@" + domain, alt_local + "@" + alt_domain])
    emails = make_unique(emails, rng)
    return people.with_columns(email=emails[:n], alt_email=emails[n:])


def make_unique(emails: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Namesakes may build the same address; give later ones a number so no two people share."""
    for _ in range(10):
        # Comparing 64-bit hashes is several times faster than comparing strings; a hash
        # collision only costs an unneeded suffix, never a missed clash.
        clash = (~emails.hash(seed=0).is_first_distinct()).to_numpy()
        if not clash.any():
            break
        rows = np.flatnonzero(clash)
        parts = emails[rows].str.split_exact("@", 1).struct.unnest()
        fixed = parts["field_0"] + random_digits(rng, len(rows), 4) + "@" + parts["field_1"]
        emails = emails.scatter(rows, fixed)
    return emails


def expand_to_records(people: pl.DataFrame, counts: np.ndarray) -> pl.DataFrame:
    """Repeat each person's row once per CRM record; `rank` 0 marks the first record."""
    person_of_row = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.arange(len(person_of_row)) - starts
    return people[person_of_row].with_columns(rank=pl.Series(rank, dtype=pl.Int64))


def scatter_values(records: pl.DataFrame, column: str, rows: np.ndarray,
                   values: list[str]) -> pl.DataFrame:
    return records.with_columns(records[column].scatter(rows, pl.Series(values, dtype=pl.Utf8)))


def add_junk_and_invalid(records: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Placeholder identifiers (~1%), unparseable values (~0.5%) and a handful of hostile strings.

    These are small subsets, so picking each value in Python is cheap.
    """
    n = records.height
    rows = rng.permutation(n)
    n_junk, n_invalid = round(n * JUNK_RATE / 2), round(n * INVALID_RATE / 2)
    cuts = np.cumsum([n_junk, n_junk, n_invalid, n_invalid])
    junk_email, junk_phone, bad_email, bad_dob, rest = np.split(rows, cuts)
    domains = records["company_domain"][junk_email].fill_null("example.com").to_list()
    picks = rng.integers(0, len(PLACEHOLDER_EMAILS), len(junk_email))
    emails = [PLACEHOLDER_EMAILS[p] + (d if PLACEHOLDER_EMAILS[p] == "info@" else "")
              for p, d in zip(picks, domains, strict=True)]
    records = scatter_values(records, "email", junk_email, emails)
    records = scatter_values(records, "phone", junk_phone, [
        PLACEHOLDER_PHONES[p] for p in rng.integers(0, len(PLACEHOLDER_PHONES), len(junk_phone))])
    records = scatter_values(records, "email", bad_email, [
        INVALID_EMAILS[p] for p in rng.integers(0, len(INVALID_EMAILS), len(bad_email))])
    records = scatter_values(records, "date_of_birth", bad_dob, [
        INVALID_DATES[p] for p in rng.integers(0, len(INVALID_DATES), len(bad_dob))])
    hostile_rows = rest[: min(len(HOSTILE_VALUES), len(rest))]
    hostile_columns = ["first_name", "last_name", "company", "city"]
    for i, row in enumerate(hostile_rows):
        records = scatter_values(records, hostile_columns[i % 4], np.array([row]),
                                 [HOSTILE_VALUES[i]])
    return records


def add_timestamps(records: pl.DataFrame, rng: np.random.Generator,
                   as_of: datetime) -> pl.DataFrame:
    """created_at within the last ~3 years; updated_at later, never after `as_of`."""
    n = records.height
    age_s = rng.integers(3600, HISTORY_DAYS * 86400, n)
    edit_s = np.minimum(rng.exponential(60 * 86400, n).astype(np.int64), age_s - 60)
    edit_s = np.where(rng.random(n) < 0.3, 0, edit_s)  # many records were never edited
    start = pl.lit(as_of.replace(tzinfo=None))
    created = start - pl.duration(seconds=pl.Series(age_s))
    updated = created + pl.duration(seconds=pl.Series(edit_s))
    return records.with_columns(created_ts=created, updated_ts=updated)


def assign_ids(records: pl.DataFrame) -> pl.DataFrame:
    """Ids ascend with created_at like a real CRM's; rows end up sorted by id."""
    records = records.sort("created_ts", "person", "rank")
    ids = pl.Series(np.arange(FIRST_CONTACT_ID, FIRST_CONTACT_ID + records.height))
    return records.with_columns(
        id=ids.cast(pl.Utf8),
        entity_id="person_" + pl.col("person").cast(pl.Utf8).str.zfill(6),
        created_at=pl.col("created_ts").dt.strftime(ISO_UTC),
        updated_at=pl.col("updated_ts").dt.strftime(ISO_UTC),
    )


OPT_OUT_RATE = 0.02


def add_opt_out_flags(contacts: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The CRM's "opted out of email" checkbox, as the APIs render it: "true" or "false"."""
    flags = np.where(rng.random(contacts.height) < OPT_OUT_RATE, "true", "false")
    return contacts.with_columns(email_opt_out=pl.Series(flags, dtype=pl.Utf8))


def build_records(n_rows: int, rng: np.random.Generator, as_of: datetime) -> pl.DataFrame:
    """All CRM records with internal helper columns (person, rank, timestamps, esp_email)."""
    counts = draw_records_per_person(n_rows, rng)
    people = add_emails(add_households(draw_people(len(counts), rng), rng), rng)
    records = expand_to_records(people, counts).with_columns(
        esp_email=pl.col("email").str.to_lowercase())
    records = corrupt.corrupt_names(records, rng)
    records = corrupt.corrupt_emails(records, rng)
    records = corrupt.drop_fields(records, rng)
    records = corrupt.move_addresses(records, rng)
    records = corrupt.format_phones(records, rng)
    records = corrupt.spell_countries(records, rng)
    records = corrupt.format_birth_dates(records, rng)
    records = add_junk_and_invalid(records, rng)
    return assign_ids(add_timestamps(records, rng, as_of))

