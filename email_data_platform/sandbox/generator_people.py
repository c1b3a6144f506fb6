"""True people for the synthetic CRM: one clean row per person, built as whole columns.

Everything here is vectorised over people; the only Python loops run over the seven countries or
over the characters of a postcode template.
"""

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from email_data_platform.sandbox.wordlists import (
    ASCII_FOLD,
    COMPANY_WORDS_A,
    COMPANY_WORDS_B,
    COUNTRIES,
    CountryProfile,
)

# Records per person: 1..4, mean ~1.41, so 10,000 CRM rows hold ~7,100 people.
RECORDS_PER_PERSON_P = (0.72, 0.18, 0.07, 0.03)
HOUSEHOLD_SHARE = 0.05  # people who share address and phone with another person
COMPANY_SHARE = 0.3
DOB_FIRST = date(1940, 1, 1)
DOB_LAST = date(2006, 12, 31)
LETTERS = tuple("ABCDEFGHJKLMNPRSTUVWXY")
DIGITS = tuple("0123456789")


def draw_records_per_person(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of CRM records per person summing exactly to n_rows (last person trimmed)."""
    if n_rows <= 0:
        return np.zeros(0, dtype=np.int64)
    estimate = int(n_rows / 1.3) + 10
    counts = rng.choice(np.arange(1, 5), size=estimate, p=RECORDS_PER_PERSON_P)
    ends = np.cumsum(counts)
    n_people = int(np.searchsorted(ends, n_rows)) + 1
    counts = counts[:n_people].copy()
    counts[-1] -= int(ends[n_people - 1] - n_rows)
    return counts


def zipf_choice(rng: np.random.Generator, n_options: int, size: int) -> np.ndarray:
    """Indices weighted ~1/rank so the first (commonest) names repeat across many people."""
    weights = 1.0 / np.arange(1, n_options + 1) ** 0.9
    return rng.choice(n_options, size=size, p=weights / weights.sum())


def pick(options: Sequence[str], indices: np.ndarray) -> pl.Series:
    """options[indices] as a Utf8 Series (a polars gather: far faster than numpy strings)."""
    return pl.Series(list(options), dtype=pl.Utf8).gather(indices)


def render_by_choice(frame: pl.DataFrame, choice: np.ndarray,
                     renderings: Sequence[pl.Expr]) -> pl.Series:
    """Row i gets renderings[choice[i]] evaluated on row i.

    Each expression runs only over the rows that chose it (a when/then chain would compute every
    branch for every row). Pass a frame holding just the columns the expressions need.
    """
    order = np.argsort(choice, kind="stable")
    bounds = np.searchsorted(choice[order], np.arange(len(renderings) + 1))
    grouped = frame[order]
    pieces = [grouped.slice(int(start), int(end - start))
              .with_columns(expr.cast(pl.Utf8).alias("_rendered"))["_rendered"]
              for expr, start, end in zip(renderings, bounds[:-1], bounds[1:], strict=True)]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pl.concat(pieces).gather(inverse)


def random_digits(rng: np.random.Generator, size: int, width: int | np.ndarray) -> pl.Series:
    """Zero-padded random digit strings of a fixed or per-row width (width <= 17)."""
    ceiling = np.power(10, np.asarray(width, dtype=np.int64))
    values = rng.integers(0, ceiling, size=size, dtype=np.int64)
    # 10**width + value has exactly width+1 digits; dropping the leading 1 pads with zeros.
    return pl.Series(values + ceiling).cast(pl.Utf8).str.slice(1)


def fill_postcodes(rng: np.random.Generator, template: str, prefixes: pl.Series) -> pl.Series:
    """Render a template like "{p}9 9AA" for each prefix: 9 = random digit, A = random letter."""
    size = len(prefixes)
    parts: list[pl.Series] = []
    for char in template.replace("{p}", "P"):
        if char == "P":
            parts.append(prefixes)
        elif char == "9":
            parts.append(pick(DIGITS, rng.integers(0, len(DIGITS), size)))
        elif char == "A":
            parts.append(pick(LETTERS, rng.integers(0, len(LETTERS), size)))
        else:
            parts.append(pl.repeat(char, size, dtype=pl.Utf8, eager=True))
    frame = pl.DataFrame({f"p{i}": part for i, part in enumerate(parts)})
    return frame.select(pl.concat_str(pl.all()).alias("postal_code")).to_series()


def draw_address(rng: np.random.Generator, country: CountryProfile, size: int) -> pl.DataFrame:
    """City and a postcode in the country's format for `size` people."""
    city_idx = rng.integers(0, len(country.cities), size)
    prefixes = pick([p for _, p in country.cities], city_idx)
    return pl.DataFrame({
        "city": pick([c for c, _ in country.cities], city_idx),
        "postal_code": fill_postcodes(rng, country.postcode_template, prefixes),
    })


def draw_phone_numbers(rng: np.random.Generator, country: CountryProfile, size: int) -> pl.Series:
    """National significant numbers: a real area/mobile prefix followed by random digits."""
    which = rng.integers(0, len(country.phone_prefixes), size)
    tail_width = np.array([length - len(p) for p, length in country.phone_prefixes])[which]
    prefixes = pick([p for p, _ in country.phone_prefixes], which)
    return prefixes + random_digits(rng, size, tail_width)


def draw_country_block(rng: np.random.Generator, ci: int, size: int) -> pl.DataFrame:
    """Names, address, phone and email domain for `size` people of one country."""
    country = COUNTRIES[ci]
    return pl.DataFrame({
        "country_idx": np.full(size, ci, dtype=np.int64),
        "first_name": pick(country.first_names, zipf_choice(rng, len(country.first_names), size)),
        "last_name": pick(country.last_names, zipf_choice(rng, len(country.last_names), size)),
        "email_domain": pick(country.email_domains,
                             rng.integers(0, len(country.email_domains), size)),
        "phone_cc": pl.repeat(country.calling_code, size, dtype=pl.Utf8, eager=True),
        "phone_nsn": draw_phone_numbers(rng, country, size),
    }).hstack(draw_address(rng, country, size))


def draw_people(n_people: int, rng: np.random.Generator) -> pl.DataFrame:
    """One clean row per true person, in person order (column `person` = 0..n-1)."""
    weights = np.array([c.weight for c in COUNTRIES])
    country_of = rng.choice(len(COUNTRIES), size=n_people, p=weights / weights.sum())
    order = np.argsort(country_of, kind="stable")
    blocks = [draw_country_block(rng, ci, int((country_of == ci).sum()))
              for ci in range(len(COUNTRIES))]
    people = pl.concat(blocks)
    # Blocks are grouped by country; scatter them back to the random person order.
    people = people[np.argsort(order, kind="stable")]
    span = (DOB_LAST - DOB_FIRST).days
    dob = np.datetime64(DOB_FIRST) + rng.integers(0, span + 1, n_people).astype("timedelta64[D]")
    has_company = pl.Series(rng.random(n_people) < COMPANY_SHARE)
    word_a = pick(COMPANY_WORDS_A, rng.integers(0, len(COMPANY_WORDS_A), n_people))
    word_b = pick(COMPANY_WORDS_B, rng.integers(0, len(COMPANY_WORDS_B), n_people))
    suffix = pick([c.company_suffix for c in COUNTRIES], country_of)
    return people.with_columns(
        person=pl.Series(np.arange(n_people, dtype=np.int64)),
        date_of_birth=pl.Series(dob).cast(pl.Date),
        company=pl.when(has_company).then(word_a + " " + word_b + " " + suffix),
        company_domain=pl.when(has_company).then((word_a + word_b).str.to_lowercase() + ".com"),
    )


def add_households(people: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Make ~5% of people live in pairs: same surname, address and phone.

    They stay different entities (own first name, dob and email): the classic false-positive
    trap for entity resolution. Column `household_of` holds the housemate's person index or -1.
    """
    n = people.height
    n_members = int(n * HOUSEHOLD_SHARE / 2) if n >= 4 else 0  # each pair is two people
    chosen = rng.choice(n, size=2 * n_members, replace=False)
    members, heads = chosen[:n_members], chosen[n_members:]
    shared = ["country_idx", "last_name", "city", "postal_code", "phone_cc", "phone_nsn"]
    head_rows = people[heads]
    updated = people.with_columns(household_of=pl.lit(-1, dtype=pl.Int64))
    if n_members == 0:
        return updated
    new_first = head_rows["first_name"].to_numpy().copy()
    head_country = head_rows["country_idx"].to_numpy()
    for ci, country in enumerate(COUNTRIES):
        rows = np.flatnonzero(head_country == ci)
        names = np.array(country.first_names, dtype=object)
        index_of = {name: i for i, name in enumerate(country.first_names)}
        own = head_rows["first_name"][rows].replace_strict(
            index_of, default=0, return_dtype=pl.Int64).to_numpy()
        offset = rng.integers(1, len(names), len(rows))  # never the housemate's own name
        new_first[rows] = names[(own + offset) % len(names)]
    replacement = head_rows.select(shared).with_columns(
        first_name=pl.Series(new_first, dtype=pl.Utf8),
        household_of=pl.Series(heads, dtype=pl.Int64),
    )
    columns = [*shared, "first_name", "household_of"]
    patched = {c: updated[c].scatter(members, replacement[c]) for c in columns}
    return updated.with_columns(**patched)


def fold_ascii(names: pl.Series) -> pl.Series:
    """Lower-case ASCII form of a name for email local parts (Müller -> mueller)."""
    uniques = names.unique().drop_nulls().to_list()
    mapping = {u: u.lower().translate(ASCII_FOLD) for u in uniques}
    return names.replace_strict(mapping, default=None, return_dtype=pl.Utf8)
