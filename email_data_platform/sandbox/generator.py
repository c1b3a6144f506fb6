"""Deterministic synthetic CRM/ESP data: contacts with duplicates, orders, engagement, consent.

`generate_dataset(contacts, seed)` builds a whole dataset (with the truth: which records are the
same person); `dataset_for_contacts(frame, seed)` builds orders, engagement and consent around
contacts someone supplied (loaded with `load_seed_contacts`). Same arguments, same bytes.
Columns follow docs/tables.md, "Generator output"; every column is Utf8.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from email_data_platform.sandbox.generator_consent import build_consent
from email_data_platform.sandbox.generator_events import build_engagement, build_orders
from email_data_platform.sandbox.generator_records import (
    CONTACT_COLUMNS,
    add_opt_out_flags,
    build_records,
)
from email_data_platform.sandbox.generator_seed import load_seed_contacts
from email_data_platform.sandbox.wordlists import COUNTRIES

__all__ = ["DEFAULT_AS_OF", "Dataset", "dataset_for_contacts", "generate_dataset",
           "load_seed_contacts", "read_dataset", "write_dataset"]

# Data is dated relative to this moment, not to today, so a seed always gives the same bytes.
DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
TABLES = ("contacts", "truth", "orders", "engagement", "consent")
TRUTH_SCHEMA = {"id": pl.Utf8, "entity_id": pl.Utf8}
COUNTRY_CODE_BY_SPELLING = {s.lower(): c.code for c in COUNTRIES for s in c.spellings}


@dataclass(eq=False)
class Dataset:
    """One synthetic extract: CRM contacts, the truth behind them, orders, ESP events, consent."""

    contacts: pl.DataFrame
    truth: pl.DataFrame
    orders: pl.DataFrame
    engagement: pl.DataFrame
    consent: pl.DataFrame
    seed: int | None = None
    as_of: datetime | None = None  # the extract's "now": every timestamp lies before it

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name).height for name in TABLES}

    def __repr__(self) -> str:  # frames would flood test failure output
        return f"Dataset(seed={self.seed}, as_of={self.as_of}, rows={self.counts()})"


def naive_utc(moment: datetime) -> datetime:
    """Internal timestamps are naive UTC; accept aware datetimes from callers."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def generate_dataset(contacts: int, seed: int = 42, *,
                     as_of: datetime = DEFAULT_AS_OF) -> Dataset:
    """A complete dataset of `contacts` CRM rows (duplicates included, ~1.4 rows per person).

    Args:
        contacts: number of contact rows (CRM records) to produce.
        seed: random seed; the same (contacts, seed, as_of) gives identical frames.
        as_of: the "now" of the extract; every timestamp lies in the ~3 years before it.
    """
    if contacts < 0:
        raise ValueError(f"contacts must be >= 0, got {contacts}")
    moment = naive_utc(as_of)
    records = build_records(contacts, np.random.default_rng([seed, 1]), moment)
    codes = [c.code for c in COUNTRIES]
    events_input = records.select(
        contact_id="id", person="person", email="email", esp_email="esp_email",
        created_ts="created_ts",
        country_code=pl.col("country_idx").replace_strict(dict(enumerate(codes))),
    )
    # its own random stream, so the other tables stay as they were before the flag existed
    contact_rows = add_opt_out_flags(records.select(CONTACT_COLUMNS),
                                     np.random.default_rng([seed, 5]))
    truth = records.select("id", "entity_id")
    del records  # free the helper columns before the event tables are built (peak memory)
    dataset = events_for(events_input, seed, moment)
    dataset.contacts, dataset.truth = contact_rows, truth
    return dataset


def events_for(events_input: pl.DataFrame, seed: int, as_of: datetime) -> Dataset:
    """Orders, engagement and consent; each from its own random stream so they stay stable
    when another table's recipe changes."""
    return Dataset(
        contacts=pl.DataFrame(),
        truth=pl.DataFrame(schema=TRUTH_SCHEMA),
        orders=build_orders(events_input, np.random.default_rng([seed, 2]), as_of),
        engagement=build_engagement(events_input, np.random.default_rng([seed, 3]), as_of),
        consent=build_consent(events_input, np.random.default_rng([seed, 4]), as_of),
        seed=seed,
        as_of=as_of.replace(tzinfo=UTC),
    )


def dataset_for_contacts(contacts: pl.DataFrame, seed: int = 42, *,
                         as_of: datetime = DEFAULT_AS_OF) -> Dataset:
    """Orders, engagement and consent around given contacts; truth is empty (unknown).

    Records sharing a case-insensitive email count as one person for orders and the ESP.
    """
    moment = naive_utc(as_of)
    email_key = pl.col("email").str.strip_chars().str.to_lowercase()
    person_key = (pl.when(email_key.str.contains("@", literal=True))
                  .then("email:" + email_key).otherwise("id:" + pl.col("id")))
    created = pl.col("created_at").str.to_datetime(strict=False, time_zone="UTC")
    events_input = contacts.select(
        contact_id="id",
        person=person_key.rank("dense").cast(pl.Int64) - 1,
        email="email",
        esp_email=pl.when(email_key.str.contains("@", literal=True)).then(email_key),
        created_ts=created.dt.replace_time_zone(None).fill_null(moment - timedelta(days=365)),
        country_code=pl.col("country").str.strip_chars().str.to_lowercase()
        .replace_strict(COUNTRY_CODE_BY_SPELLING, default="GB"),
    )
    dataset = events_for(events_input, seed, moment)
    dataset.contacts = contacts
    return dataset


def write_dataset(dataset: Dataset, out_dir: Path) -> dict[str, Path]:
    """Write one Parquet file per table plus manifest.json (seed, row counts)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in TABLES:
        paths[name] = out_dir / f"{name}.parquet"
        getattr(dataset, name).write_parquet(paths[name])
    paths["manifest"] = out_dir / "manifest.json"
    as_of = dataset.as_of.strftime("%Y-%m-%dT%H:%M:%SZ") if dataset.as_of else None
    manifest = {"seed": dataset.seed, "as_of": as_of, "counts": dataset.counts()}
    paths["manifest"].write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return paths


def read_dataset(out_dir: Path) -> Dataset:
    """Read what `write_dataset` wrote; a missing truth.parquet gives an empty truth frame."""
    out_dir = Path(out_dir)
    frames = {}
    for name in TABLES:
        path = out_dir / f"{name}.parquet"
        if name == "truth" and not path.exists():
            frames[name] = pl.DataFrame(schema=TRUTH_SCHEMA)
        else:
            frames[name] = pl.read_parquet(path)
    manifest = out_dir / "manifest.json"
    facts = json.loads(manifest.read_text()) if manifest.exists() else {}
    as_of = datetime.fromisoformat(facts["as_of"]) if facts.get("as_of") else None
    return Dataset(**frames, seed=facts.get("seed"), as_of=as_of)
