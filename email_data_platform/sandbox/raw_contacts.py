"""Generator contacts in the `sources.crm_contacts` shape, for benchmarks and tests that skip HTTP.

The sources stage lands the same shape after pulling from the HubSpot simulator; building it
directly lets cleaning and identity be measured on a million rows without the extraction.
"""

from datetime import UTC, datetime

import numpy as np
import polars as pl

HOSTILE_VALUES = [
    "Ann\x00Lee",
    "\u202eeil\u202c",
    "Zoë 😀",
    "x" * 5000,
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE contacts;--",
    "\x07\x1b[31mred",
    "  ",
    "\ufeffBOM",
    "ＡＢＣ",
]
FREE_TEXT_COLUMNS = ("first_name", "last_name", "email", "phone", "city", "company")


def as_crm_contacts(
    contacts: pl.DataFrame, run_id: str, extracted_at: datetime | None = None
) -> pl.DataFrame:
    """Generator contacts (`id`, ...) as raw HubSpot rows (`record_id` = `hubspot:<id>`, ...)."""
    return contacts.with_columns(
        pl.concat_str(pl.lit("hubspot:"), pl.col("id")).alias("record_id"),
        pl.lit("hubspot").alias("source"),
        pl.col("id").alias("object_id"),
        pl.lit(False).alias("archived"),
        pl.lit(extracted_at or datetime.now(UTC), dtype=pl.Datetime("us", "UTC"))
        .alias("extracted_at"),
        pl.lit(run_id).alias("run_id"),
    ).drop("id")


def with_hostile_values(raw: pl.DataFrame, share: float, seed: int) -> pl.DataFrame:
    """Scatter hostile strings over the free-text columns, `share` of the rows in each."""
    rng = np.random.default_rng(seed)
    for column in FREE_TEXT_COLUMNS:
        rows = np.flatnonzero(rng.random(raw.height) < share)
        values = pl.Series([HOSTILE_VALUES[i % len(HOSTILE_VALUES)] for i in range(len(rows))],
                           dtype=pl.Utf8)
        raw = raw.with_columns(raw.get_column(column).scatter(rows, values))
    return raw
